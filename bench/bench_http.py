"""HTTP benchmark: what 200 conditional GETs answered 304 cost, in httpx alone and in digest.

The same servers as bench_build.py (4 feeds a host on 127.0.0.2..., 100 ms before each
answer). `httpx` is a bare AsyncClient, 50 requests at once; `digest` is digest's own fetch
(`sources/http.py`: per-host gates, deadline, byte cap). Both print wall time and the CPU of
the thread running the event loop: the part of a warm rebuild no second core can take.
Run: `.venv/bin/python bench/bench_http.py [--feeds N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_build import feed_xml, serving  # noqa: E402

from digest.config import FetchConfig  # noqa: E402
from digest.sources.http import Gates, fetch_within_deadline, open_client  # noqa: E402
from digest.store import CachedFetch  # noqa: E402

Run = Callable[[list[str], dict[str, str]], Coroutine[Any, Any, list[int]]]


async def bare_httpx(urls: list[str], etags: dict[str, str]) -> list[int]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
        width = asyncio.Semaphore(50)

        async def one(url: str) -> int:
            async with width:
                answer = await client.get(url, headers={"If-None-Match": etags[url]})
                return answer.status_code

        return list(await asyncio.gather(*(one(url) for url in urls)))


async def digest_fetch(urls: list[str], etags: dict[str, str]) -> list[int]:
    fetch = FetchConfig()
    async with open_client(fetch, fetch.concurrency) as client:
        gates = Gates(fetch.concurrency, fetch.per_host)

        async def one(url: str) -> int:
            cached = CachedFetch(url, etags[url], None, b"<rss/>", datetime.now(UTC))
            async with gates.hold(url):
                return (await fetch_within_deadline(client, url, cached, fetch)).status

        return list(await asyncio.gather(*(one(url) for url in urls)))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    feeds = {f"/feed/{n}": feed_xml(n, 5) for n in range(args.feeds)}
    with serving(feeds, 0.1, -(-args.feeds // 4)) as bases:
        urls = [bases[n // 4] + path for n, path in enumerate(feeds)]
        etags = {url: f'"{len(feeds[path])}"' for url, path in zip(urls, feeds, strict=True)}
        runs: list[tuple[str, Run]] = [("httpx", bare_httpx), ("digest", digest_fetch)]
        for _ in range(args.repeat):
            for name, run in runs:
                started, cpu = time.perf_counter(), time.thread_time()
                statuses = set(asyncio.run(run(urls, etags)))
                elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
                print(f"{name}: {elapsed:.2f} s, event loop CPU {cpu:.2f} s, {statuses}")


if __name__ == "__main__":
    main()
