"""Feed sources: fetch over HTTP within hard limits, then parse off the event loop.

`collect_feeds` fetches every feed at once (httpx + asyncio: `fetch.concurrency` requests in
all, `fetch.per_host` to any one host) under a total deadline per feed, a cap on decoded
bytes, a redirect limit, http(s) only (http.py), and answers from the cache when it can: no request
while Cache-Control says the copy is fresh, a conditional GET otherwise, and the items
parsed last time when the server answers 304 or sends the same body again (itemcache.py).
Parsing (feedparse.py) runs in worker processes under a CPU allowance (feedpool.py), for
fetched feeds, feed files (`path:`) and `--offline` copies alike. Every failure becomes a
SourceResult with status "error" and a one-line reason: nothing here raises because of a
source.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from ..config import FetchConfig, SourceConfig
from ..errors import FetchError, ParseError, SourceError
from ..i18n import t
from ..models import Item, SourceResult, SourceStatus
from ..store import CachedFetch, CacheUpdate, FetchForget, FetchRefresh, ParsedCopy
from .feedparse import parse_feed, self_describing
from .feedpool import ParseTimeout, parse_for_cache, parse_in_worker, parser_pool
from .freshness import freshness, still_fresh
from .http import (
    ACCEPT,
    MAX_CONNECTIONS,
    USER_AGENT,
    Fetched,
    Gates,
    fetch_within_deadline,
    open_client,
)
from .itemcache import copy_id, decode_items, encode_items, parse_key

__all__ = [
    "ACCEPT",
    "USER_AGENT",
    "collect_feeds",
    "items_from_cache",
    "parse_feed",
    "read_feed_file",
    "read_snapshot",
]

Result = tuple[SourceResult, CacheUpdate | None]
OnResult = Callable[[SourceResult], None]


def collect_feeds(
    sources: Sequence[SourceConfig],
    cache: Mapping[str, CachedFetch],
    fetch: FetchConfig,
    now: datetime,
    on_result: OnResult | None = None,
    offline: bool = False,
) -> list[Result]:
    """One (SourceResult, change to the fetch cache or None) per source, in input order.

    Sources with a `url:` are fetched (`offline`: read from `cache`, else their
    `snapshot:`), sources whose `path:` is a file are read from disk; all are parsed in the
    worker processes. `on_result` is called with each result as soon as it is ready (in
    completion order, on the event loop's thread): a progress bar, or work that need not
    wait for the others.
    """
    feeds = sum(1 for source in sources if (source.url or source.path) and source.enabled)
    with parser_pool(feeds) as pool:
        return asyncio.run(_collect(sources, cache, fetch, now, pool, on_result, offline))


def items_from_cache(source: SourceConfig, cached: CachedFetch) -> SourceResult:
    """The items of the last body fetched, in this process (the build reads them through
    collect_feeds(offline=True)): those parsed last time if still valid, else parsed again."""
    try:
        items = _stored_items(cached, parse_key(source))
        if items is None:
            items = parse_feed(cached.body_bytes(), source, cached.url)
    except ParseError as exc:
        return _error(source, t("source.cache_unusable", error=exc.message))
    return SourceResult(
        source.name, "not_modified", items, etag=cached.etag, last_modified=cached.last_modified
    )


def read_feed_file(source: SourceConfig) -> SourceResult:
    """The items of a feed file on disk, in this process and without a CPU allowance (a
    build reads them through collect_feeds, in the worker processes)."""
    if source.path is None or not source.path.is_file():
        return _error(source, t("source.not_a_feed_file", path=source.path))
    try:
        body = _read_capped(source.path, FetchConfig().max_bytes)
    except SourceError as exc:
        return _error(source, exc.message)
    try:
        items = parse_feed(body, source, None)
    except ParseError as exc:
        return _error(source, f"{source.path.name}: {exc.message}")
    return SourceResult(source.name, "ok", items)


def read_snapshot(source: SourceConfig, max_bytes: int) -> SourceResult:
    """The items of the feed's `snapshot:` file, in this process (see read_feed_file).

    Read as the cached copy of the feed would be: the fetch's byte cap, the same parser and
    sanitizer, the feed's URL as the base of relative links. Status "ok": the configured
    copy was read, which is no reason to warn anyone (the demo's partners, a partner down).
    """
    if source.snapshot is None:
        return _error(source, t("source.no_snapshot"))
    try:
        items = parse_feed(_read_capped(source.snapshot, max_bytes), source, source.url)
    except SourceError as exc:
        name = source.snapshot.name
        return _error(source, t("source.snapshot_unusable", name=name, error=exc.message))
    return SourceResult(source.name, "ok", items)


def _read_capped(path: Path, limit: int) -> bytes:
    """The bytes of `path`, refused past `limit` (read no further than that: a feed file may
    be anything someone dropped in a folder)."""
    try:
        with path.open("rb") as stream:
            body = stream.read(limit + 1)
    except OSError as exc:
        raise SourceError(t("error.cannot_read", path=path, error=exc.strerror or exc)) from None
    if len(body) > limit:
        raise SourceError(t("source.too_large", limit=limit))
    return body


def _error(source: SourceConfig, reason: str) -> SourceResult:
    return SourceResult(source.name, "error", error=reason)


# -- the concurrent run ------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """What every source of one collect_feeds call shares."""

    client: httpx.AsyncClient
    gates: Gates
    pool: Executor | None
    cache: Mapping[str, CachedFetch]
    fetch: FetchConfig
    now: datetime
    offline: bool


async def _collect(
    sources: Sequence[SourceConfig],
    cache: Mapping[str, CachedFetch],
    fetch: FetchConfig,
    now: datetime,
    pool: Executor | None,
    on_result: OnResult | None,
    offline: bool,
) -> list[Result]:
    width = max(1, min(fetch.concurrency, MAX_CONNECTIONS))
    async with open_client(fetch, width) as client:
        run = _Run(client, Gates(width, fetch.per_host), pool, cache, fetch, now, offline)
        jobs = [_one(run, source) for source in sources]
        if on_result is None:
            return list(await asyncio.gather(*jobs))
        return await _reporting(jobs, on_result)


async def _reporting(jobs: list[Coroutine[Any, Any, Result]], on_result: OnResult) -> list[Result]:
    """gather(), calling `on_result` as each job ends; the results keep the jobs' order."""

    async def reported(job: Coroutine[Any, Any, Result]) -> Result:
        result = await job
        on_result(result[0])
        return result

    return list(await asyncio.gather(*(reported(job) for job in jobs)))


async def _one(run: _Run, source: SourceConfig) -> Result:
    """Read one source; any failure becomes an error result."""
    if not source.enabled:
        return SourceResult(source.name, "skipped"), None
    started = time.monotonic()
    try:
        result, entry = await _read(run, source)
    except SourceError as exc:
        result, entry = _error(source, exc.message), None
    except ParseTimeout:  # the timer fired just as the worker returned
        result, entry = _error(source, t("source.parse_too_long")), None
    except BrokenProcessPool:
        result, entry = _error(source, t("source.parser_died")), None
    except Exception as exc:  # a source must never abort the run; say what happened
        unexpected = t("source.unexpected", kind=type(exc).__name__, error=exc)
        result, entry = _error(source, unexpected), None
    return replace(result, elapsed_s=round(time.monotonic() - started, 3)), entry


async def _read(run: _Run, source: SourceConfig) -> Result:
    if not source.url:
        return await _read_file(run, source), None
    cached = run.cache.get(source.url)
    if run.offline:
        return await _read_offline(run, source, cached)
    if cached is not None and cached.has_body and still_fresh(cached, run.now):
        return await _from_cache(run, source, cached)
    async with run.gates.hold(source.url):
        fetched = await fetch_within_deadline(run.client, source.url, cached, run.fetch)
    return await _interpret(run, fetched, source, cached)


async def _interpret(
    run: _Run, fetched: Fetched, source: SourceConfig, cached: CachedFetch | None
) -> Result:
    """304: the cached items; 2xx: the items of the body and the cache entry to store."""
    if fetched.status == 304:
        if cached is None or not cached.has_body:
            raise FetchError(t("source.304_without_cache"))
        items, parsed = await _cached_items(run, source, cached)
        return _unchanged(run, fetched, source, cached, items, parsed, "not_modified")
    digest = _body_hash(fetched)
    if cached is not None and cached.body_hash == digest:
        stored = _stored_items(cached, parse_key(source))
        if stored is not None:  # the same bytes as last time, already parsed
            return _unchanged(run, fetched, source, cached, stored, None, "ok")
    return await _parse_fetched(run, fetched, source, digest)


async def _parse_fetched(run: _Run, fetched: Fetched, source: SourceConfig, digest: str) -> Result:
    items, encoded = await _parse_for_cache(
        run.pool, fetched.body, source, fetched.url, fetched.headers
    )
    etag, modified = fetched.headers.get("etag"), fetched.headers.get("last-modified")
    result = SourceResult(
        source.name, "ok", items, etag=etag, last_modified=modified, copy=copy_id(encoded)
    )
    fresh_until, keep = freshness(fetched.headers, run.now)
    url = source.url or fetched.url
    if not keep:
        return result, FetchForget(url)
    # Stored only once it parsed: a broken body must not replace a good cached copy.
    body = self_describing(fetched.body, fetched.headers)[0]
    parsed = ParsedCopy(parse_key(source), encoded, run.now)
    entry = CachedFetch(url, etag, modified, body, run.now, digest, fresh_until, parsed)
    return result, entry


def _unchanged(
    run: _Run,
    fetched: Fetched,
    source: SourceConfig,
    cached: CachedFetch,
    items: tuple[Item, ...],
    parsed: ParsedCopy | None,
    status: SourceStatus,
) -> Result:
    """The result of a feed whose cached body still holds, and the cache's new validators
    (a 304 may leave out those that did not change; a 200 gives them all)."""
    etag, modified = fetched.headers.get("etag"), fetched.headers.get("last-modified")
    if fetched.status == 304:
        etag, modified = etag or cached.etag, modified or cached.last_modified
    copy = _copy_of(cached, parsed)
    result = SourceResult(source.name, status, items, etag=etag, last_modified=modified, copy=copy)
    fresh_until, keep = freshness(fetched.headers, run.now)
    if not keep:
        return result, FetchForget(cached.url)
    return result, FetchRefresh(cached.url, etag, modified, run.now, fresh_until, parsed)


async def _from_cache(run: _Run, source: SourceConfig, cached: CachedFetch) -> Result:
    """A copy Cache-Control still calls fresh, or `--offline`: no request at all."""
    items, parsed = await _cached_items(run, source, cached)
    result = SourceResult(
        source.name, "not_modified", items, etag=cached.etag, last_modified=cached.last_modified,
        copy=_copy_of(cached, parsed),
    )  # fmt: skip
    if parsed is None:
        return result, None
    refresh = FetchRefresh(
        cached.url, cached.etag, cached.last_modified, cached.fetched_at, cached.fresh_until, parsed
    )
    return result, refresh


async def _cached_items(
    run: _Run, source: SourceConfig, cached: CachedFetch
) -> tuple[tuple[Item, ...], ParsedCopy | None]:
    """The items parsed last time when they are still valid (None then: nothing to store),
    else the cached body parsed again and the new copy to store."""
    key = parse_key(source)
    items = _stored_items(cached, key)
    if items is not None:
        return items, None
    body = cached.body_bytes()
    items, encoded = await _parse_for_cache(run.pool, body, source, cached.url, {})
    return items, ParsedCopy(key, encoded, run.now)


def _copy_of(cached: CachedFetch, parsed: ParsedCopy | None) -> str:
    """The id of the copy the items came from: the new one, else the stored one."""
    copy = parsed or cached.parsed
    return copy_id(copy.items) if copy is not None else ""


def _stored_items(cached: CachedFetch, key: str) -> tuple[Item, ...] | None:
    if cached.parsed is None or cached.parsed.key != key:
        return None
    return decode_items(cached.parsed.items)


def _body_hash(fetched: Fetched) -> str:
    """What the parse of a body depends on besides the source: the bytes, their declared
    type and charset, and the URL they came from (the base of relative links)."""
    head = f"{fetched.url}\n{fetched.headers.get('content-type', '')}\n".encode()
    return hashlib.sha256(head + fetched.body).hexdigest()[:32]


# -- files and offline copies ------------------------------------------------------------


async def _read_file(run: _Run, source: SourceConfig) -> SourceResult:
    """A feed file on disk (`path:`), parsed in the pool; its own self link is its base."""
    if source.path is None or not source.path.is_file():
        return _error(source, t("source.not_a_feed_file", path=source.path))
    body = _read_capped(source.path, run.fetch.max_bytes)
    try:
        items = await _parse(run.pool, body, source, None, {})
    except ParseError as exc:
        return _error(source, f"{source.path.name}: {exc.message}")
    return SourceResult(source.name, "ok", items, copy=_bytes_id(source, body))


async def _read_offline(run: _Run, source: SourceConfig, cached: CachedFetch | None) -> Result:
    """--offline: the cached copy, else the `snapshot:` file (read like a fetched body)."""
    if cached is not None:
        try:
            return await _from_cache(run, source, cached)
        except ParseError as exc:
            return _error(source, t("source.cache_unusable", error=exc.message)), None
    if source.snapshot is None:
        return _error(source, t("source.no_snapshot")), None
    try:
        body = _read_capped(source.snapshot, run.fetch.max_bytes)
        items = await _parse(run.pool, body, source, source.url, {})
    except SourceError as exc:
        name = source.snapshot.name
        return _error(source, t("source.snapshot_unusable", name=name, error=exc.message)), None
    return SourceResult(source.name, "ok", items, copy=_bytes_id(source, body)), None


def _bytes_id(source: SourceConfig, body: bytes) -> str:
    """The id of items parsed from `body` for `source` (the parse key names the rest)."""
    return copy_id(f"{parse_key(source)}\n".encode() + body)


# -- parsing off the event loop ----------------------------------------------------------


async def _parse(
    pool: Executor | None,
    body: bytes,
    source: SourceConfig,
    base_url: str | None,
    headers: Mapping[str, str],
) -> tuple[Item, ...]:
    if pool is None:  # no pool: there was no feed to read
        return parse_feed(body, source, base_url, headers)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, parse_in_worker, body, source, base_url, dict(headers))


async def _parse_for_cache(
    pool: Executor | None,
    body: bytes,
    source: SourceConfig,
    base_url: str | None,
    headers: Mapping[str, str],
) -> tuple[tuple[Item, ...], bytes]:
    """The items and their encoding for the fetch cache."""
    if pool is None:
        items = parse_feed(body, source, base_url, headers)
        return items, encode_items(items)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, parse_for_cache, body, source, base_url, dict(headers))
