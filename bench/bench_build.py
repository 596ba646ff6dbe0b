"""Build benchmark: `digest build` from 200 feeds x 50 items, cold, warm and from disk.

Each feed is about 100 KB of RSS 2.0 with HTML bodies, dated in ISO week 2023-W19, served
by threaded HTTP servers on loopback addresses 127.0.0.2, 127.0.0.3, ... (4 feeds a host,
as partners have their own sites) that wait 100 ms before every response, and answer 304
to a matching If-None-Match. At default settings, the benchmark times `collect_feeds`
alone (fetch + parse), then the whole `digest build` as a subprocess: cold (a fresh store),
warm (the same store again: every feed answers 304) and from 200 feed files on disk
(`path:`). Run: `make bench` (or `.venv/bin/python bench/bench_build.py [--feeds N]
[--latency S] [--repeat N] [--code DIR]`); `--code` runs the builds with another checkout's
`digest` package (PYTHONPATH), to compare old and new code back to back.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import FetchConfig, SourceConfig  # noqa: E402
from digest.sources.feeds import collect_feeds  # noqa: E402
from digest.store import CachedFetch  # noqa: E402

WEEK_START = datetime(2023, 5, 8, 6, 0, tzinfo=UTC)  # Monday of 2023-W19, 08:00 in Paris
SERVER_LIFETIME_S = 300  # the server stops by itself even if the benchmark dies
WORDS = (
    "climat participation citoyenne économie circulaire transition énergétique biodiversité "
    "collectivités concertation mobilité alimentation durable rénovation sobriété territoire "
    "habitants ateliers réemploi eau agriculture forêt adaptation solidarité jeunesse"
).split()


def paragraph(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(words)).capitalize()


def item_xml(feed: int, number: int) -> str:
    """One item of about 2 KB: title, link, date in the week, HTML body with a link and image."""
    published = WEEK_START + timedelta(minutes=(feed * 50 + number) * 13 % (6 * 24 * 60))
    body = "".join(
        f"<p>{paragraph(feed + number + k, 38)}. <a href='/articles/{feed}-{number}-{k}'>Lire"
        f"</a> <strong>{paragraph(k, 3)}</strong></p>"
        for k in range(3)
    )
    body += f"<p><img src='/images/{feed}-{number}.jpg' alt='illustration'></p>"
    return (
        f"<item><title>{escape(paragraph(feed * 3 + number, 9))} n°{feed}-{number}</title>"
        f"<link>https://partenaire{feed}.example.org/actualites/{number}</link>"
        f"<guid isPermaLink='false'>p{feed}-{number}</guid>"
        f"<pubDate>{published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<category>{WORDS[number % len(WORDS)]}</category>"
        f"<description>{escape(body)}</description></item>\n"
    )


def feed_xml(feed: int, items: int) -> bytes:
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Partenaire {feed}</title><link>https://partenaire{feed}.example.org/</link>"
        "<description>Actualités du partenaire</description>\n"
    )
    entries = "".join(item_xml(feed, n) for n in range(items))
    return (head + entries + "</channel></rss>\n").encode("utf-8")


class SlowFeeds(BaseHTTPRequestHandler):
    """Serves /feed/N after `latency` seconds, like a partner's server far away."""

    protocol_version = "HTTP/1.1"
    feeds: ClassVar[dict[str, bytes]] = {}
    latency: ClassVar[float] = 0.1

    def do_GET(self) -> None:
        time.sleep(self.latency)
        body = self.feeds.get(self.path)
        if body is None:
            self.send_error(404)
            return
        etag = f'"{len(body)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(feeds: dict[str, bytes], latency: float, hosts: int) -> Iterator[list[str]]:
    """One server per loopback address 127.0.0.2... (Linux routes all of 127/8 to lo)."""
    SlowFeeds.feeds, SlowFeeds.latency = feeds, latency
    servers = [ThreadingHTTPServer((f"127.0.0.{n + 2}", 0), SlowFeeds) for n in range(hosts)]
    stoppers = []
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stopper = threading.Timer(SERVER_LIFETIME_S, server.shutdown)
        stopper.daemon = True
        stopper.start()
        stoppers.append(stopper)
    try:
        yield [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in servers]
    finally:
        for server, stopper in zip(servers, stoppers, strict=True):
            stopper.cancel()
            server.shutdown()
            server.server_close()


def cpu_seconds() -> float:
    """User + system CPU of this process (the server threads too) and its reaped children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_collect(urls: list[str]) -> None:
    """collect_feeds in this process, cold (no cache), then warm (the cache it returned)."""
    sources = [SourceConfig(name=f"Partenaire {n}", url=url) for n, url in enumerate(urls)]
    cache: dict[str, CachedFetch] = {}
    for label in ("cold", "warm (304)"):
        started, cpu = time.perf_counter(), cpu_seconds()
        results = collect_feeds(sources, cache, FetchConfig(), datetime(2023, 5, 15, 8, tzinfo=UTC))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        statuses = Counter(r.status for r, _ in results)
        items = sum(len(r.items) for r, _ in results)
        print(f"collect_feeds, {label}: {elapsed:.2f} s (CPU {cpu:.2f} s), {items} items, ", end="")
        print(", ".join(f"{k}: {v}" for k, v in statuses.items()), flush=True)
        cache = {e.url: e for _, e in results if isinstance(e, CachedFetch)}


def config_text(sources: list[str], store: Path) -> str:
    """feeds.yaml at default settings; `sources` are URLs or feed files."""
    key = "path" if sources and not sources[0].startswith("http") else "url"
    lines = "".join(
        f'  - name: "Partenaire {n}"\n    {key}: "{s}"\n' for n, s in enumerate(sources)
    )
    return (
        'newsletter:\n  title: "Lettre du Cerdd (benchmark)"\n  sender: "Lettre <l@example.org>"\n'
        f"store: {store}\nsources:\n{lines}"
        'themes:\n  - id: climat\n    title: "Climat"\n    keywords: ["climat"]\n'
        '  - id: participation\n    title: "Participation citoyenne"\n'
        '    keywords: ["participation", "concertation"]\n'
    )


def time_build(folder: Path, sources: list[str], code: Path | None) -> tuple[float, float, str]:
    """One `digest build` with the store in `folder` (kept between calls: warm builds)."""
    config = folder / "feeds.yaml"
    config.write_text(config_text(sources, folder / "digest.db"), encoding="utf-8")
    command = [sys.executable, "-m", "digest", "--config", str(config), "build"]
    command += ["--week", "2023-W19", "--out", str(folder / "out")]
    environment = dict(os.environ, PYTHONPATH=str(code or ROOT))
    started, cpu = time.perf_counter(), cpu_seconds()
    # cwd: `python -m` puts the working directory first on sys.path, before PYTHONPATH.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env=environment, cwd=folder
    )
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return elapsed, cpu, f"exit {done.returncode}: {' | '.join(tail)}"
    data = json.loads((folder / "out" / "digest.json").read_text(encoding="utf-8"))
    statuses = Counter(source["status"] for source in data["sources"])
    return elapsed, cpu, "exit 0, sources " + ", ".join(f"{k}: {v}" for k, v in statuses.items())


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-host", type=int, default=4, help="feeds served by each host")
    parser.add_argument("--no-build", action="store_true", help="time collect_feeds only")
    parser.add_argument("--no-collect", action="store_true", help="time the builds only")
    parser.add_argument("--code", type=Path, help="a checkout whose digest package builds")
    return parser.parse_args()


def print_setup(args: argparse.Namespace, feeds: dict[str, bytes], hosts: int) -> None:
    size = sum(map(len, feeds.values())) / len(feeds) / 1000
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    print(f"load average: {' / '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"code: {args.code or ROOT}")
    print(
        f"{args.feeds} feeds x {args.items} items, {size:.0f} KB each, on {hosts} hosts, ", end=""
    )
    print(f"{args.latency * 1000:.0f} ms latency per response")
    width = FetchConfig().concurrency
    waves = -(-args.feeds // width)
    print(f"floor (network, {width} connections): {waves * args.latency:.1f} s")
    print("CPU = user+system seconds of every process involved (the bench's own server too)")


def report(label: str, run: int, timing: tuple[float, float, str]) -> None:
    elapsed, cpu, what = timing
    print(f"{label} run {run}: {elapsed:.2f} s (CPU {cpu:.2f} s), {what}", flush=True)


def run_builds(args: argparse.Namespace, urls: list[str], feeds: dict[str, bytes]) -> None:
    for run in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory() as tmp:
            report("digest build, cold", run, time_build(Path(tmp), urls, args.code))
            report("digest build, warm (304)", run, time_build(Path(tmp), urls, args.code))
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for n, body in enumerate(feeds.values()):
            files.append(str(Path(tmp) / f"feed{n}.xml"))
            Path(files[-1]).write_bytes(body)
        for run in range(1, args.repeat + 1):
            with tempfile.TemporaryDirectory() as store:
                report("digest build, feed files", run, time_build(Path(store), files, args.code))


def main() -> None:
    args = arguments()
    # As pip leaves an installed package: compiled. Why: with PYTHONDONTWRITEBYTECODE set
    # (this machine sets it), every build would compile the package again (~0.2 s).
    compileall.compile_dir(str((args.code or ROOT) / "digest"), quiet=1)
    feeds = {f"/feed/{n}": feed_xml(n, args.items) for n in range(args.feeds)}
    hosts = -(-args.feeds // args.per_host)
    print_setup(args, feeds, hosts)
    with serving(feeds, args.latency, hosts) as bases:
        urls = [bases[n // args.per_host] + path for n, path in enumerate(feeds)]
        for _run in range(0 if args.no_collect else args.repeat):
            time_collect(urls)
        if not args.no_build:
            run_builds(args, urls, feeds)


if __name__ == "__main__":
    main()
