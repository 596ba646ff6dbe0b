"""Feed sources: fetch over HTTP within hard limits, then parse off the event loop.

`collect_feeds` fetches every feed at once (httpx + asyncio: `fetch.concurrency` requests in
all, `fetch.per_host` to any one host) under a total deadline per feed, a cap on decoded
bytes, a redirect limit, http(s) only, and answers from the cache when it can: no request
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
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __version__
from ..config import FetchConfig, SourceConfig
from ..errors import FetchError, ParseError, SourceError
from ..i18n import t
from ..models import Item, SourceResult, SourceStatus
from ..store import CachedFetch, CacheUpdate, FetchForget, FetchRefresh, ParsedCopy
from .feedparse import parse_feed, self_describing
from .feedpool import ParseTimeout, parse_for_cache, parse_in_worker, parser_pool
from .freshness import freshness, still_fresh
from .itemcache import decode_items, encode_items, parse_key

__all__ = [
    "USER_AGENT",
    "collect_feeds",
    "items_from_cache",
    "parse_feed",
    "read_feed_file",
    "read_snapshot",
]

# The pipeline adds the newsletter's base_url, so a partner's webmaster knows who asks.
USER_AGENT = f"digest/{__version__} (newsletter feed reader)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.8, */*;q=0.5"
)
# An upper bound on the global width. Session 2 saw httpx spend its CPU managing the pool
# above about 20 connections; session 5 measured again (bench/bench_build.py, 200 feeds on
# 50 hosts): at 50 a cold collect costs the same CPU as at 20 (8.2 CPU-s), and a warm one
# (every feed answering 304) takes 1.0 s instead of 1.6 s. Politeness is `per_host`.
MAX_CONNECTIONS = 64
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
Result = tuple[SourceResult, CacheUpdate | None]
OnResult = Callable[[SourceResult], None]


@dataclass(frozen=True)
class Fetched:
    """A final (non-redirect) response: status, decoded body, headers, URL after redirects."""

    status: int
    body: bytes
    headers: dict[str, str]
    url: str


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
            items = parse_feed(cached.body, source, cached.url)
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


class _Gates:
    """At most `width` fetches at once in all, and `per_host` to any one host.

    A fetch waits for its host's gate before it takes a place in the global one, so feeds
    queued behind a busy host never hold places other hosts could use. The host is the
    feed URL's (redirects count against the host first asked).
    """

    def __init__(self, width: int, per_host: int) -> None:
        self.width = asyncio.Semaphore(width)
        self.per_host = per_host
        self.hosts: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def hold(self, url: str) -> AsyncIterator[None]:
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:  # the fetch itself says what is wrong with the URL
            host = ""
        gate = self.hosts.setdefault(host, asyncio.Semaphore(self.per_host))
        async with gate, self.width:
            yield


@dataclass(frozen=True)
class _Run:
    """What every source of one collect_feeds call shares."""

    client: httpx.AsyncClient
    gates: _Gates
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
    async with _client(fetch, width) as client:
        run = _Run(client, _Gates(width, fetch.per_host), pool, cache, fetch, now, offline)
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
    if cached is not None and cached.body and still_fresh(cached, run.now):
        return await _from_cache(run, source, cached)
    async with run.gates.hold(source.url):
        fetched = await _fetch_within_deadline(run.client, source.url, cached, run.fetch)
    return await _interpret(run, fetched, source, cached)


async def _interpret(
    run: _Run, fetched: Fetched, source: SourceConfig, cached: CachedFetch | None
) -> Result:
    """304: the cached items; 2xx: the items of the body and the cache entry to store."""
    if fetched.status == 304:
        if cached is None or not cached.body:
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
    result = SourceResult(source.name, "ok", items, etag=etag, last_modified=modified)
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
    result = SourceResult(source.name, status, items, etag=etag, last_modified=modified)
    fresh_until, keep = freshness(fetched.headers, run.now)
    if not keep:
        return result, FetchForget(cached.url)
    return result, FetchRefresh(cached.url, etag, modified, run.now, fresh_until, parsed)


async def _from_cache(run: _Run, source: SourceConfig, cached: CachedFetch) -> Result:
    """A copy Cache-Control still calls fresh, or `--offline`: no request at all."""
    items, parsed = await _cached_items(run, source, cached)
    result = SourceResult(
        source.name, "not_modified", items, etag=cached.etag, last_modified=cached.last_modified
    )
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
    items, encoded = await _parse_for_cache(run.pool, cached.body, source, cached.url, {})
    return items, ParsedCopy(key, encoded, run.now)


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
    return SourceResult(source.name, "ok", items)


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
    return SourceResult(source.name, "ok", items), None


# -- fetching ----------------------------------------------------------------------------


@asynccontextmanager
async def _client(fetch: FetchConfig, width: int) -> AsyncIterator[httpx.AsyncClient]:
    headers = {
        "User-Agent": fetch.user_agent or USER_AGENT,
        "Accept": ACCEPT,
        # Only what _Decoder can decode within the byte cap.
        "Accept-Encoding": "gzip, deflate",
    }
    limits = httpx.Limits(max_connections=width, max_keepalive_connections=width)
    async with httpx.AsyncClient(
        headers=headers,
        follow_redirects=False,  # followed by hand: counted, and http(s) only
        # A backstop only: the total deadline (asyncio) always comes first and says so.
        timeout=httpx.Timeout(fetch.deadline + 1),
        limits=limits,
    ) as client:
        yield client


async def _fetch_within_deadline(
    client: httpx.AsyncClient, url: str, cached: CachedFetch | None, fetch: FetchConfig
) -> Fetched:
    # httpx's timeouts restart on every chunk, so a server trickling a byte at a time never
    # trips them: the deadline covers the whole exchange, redirects and body included.
    try:
        async with asyncio.timeout(fetch.deadline):
            return await _fetch(client, url, cached, fetch)
    except TimeoutError:
        raise FetchError(t("source.timed_out_after", seconds=fetch.deadline)) from None
    except httpx.TimeoutException as exc:
        raise FetchError(t("source.timed_out", kind=type(exc).__name__)) from None
    except httpx.InvalidURL as exc:  # httpx parses a redirect's Location before we see it
        raise FetchError(t("source.redirect_invalid", error=exc)) from None
    except httpx.HTTPError as exc:
        error = str(exc) or type(exc).__name__
        raise FetchError(t("source.connection_failed", error=error)) from None


async def _fetch(
    client: httpx.AsyncClient, url: str, cached: CachedFetch | None, fetch: FetchConfig
) -> Fetched:
    try:
        scheme = httpx.URL(url).scheme
    except httpx.InvalidURL as exc:
        raise FetchError(t("source.invalid_url", error=exc)) from None
    if scheme not in ("http", "https"):
        raise FetchError(t("source.not_http", url=url[:120]))
    headers = _conditional_headers(cached)
    for _ in range(fetch.max_redirects + 1):
        async with client.stream("GET", url, headers=headers) as response:
            location = response.headers.get("location")
            if response.status_code in REDIRECT_CODES and location:
                url = _redirect_target(url, location)
                continue
            return await _final(response, url, fetch.max_bytes)
    raise FetchError(t("source.too_many_redirects", limit=fetch.max_redirects))


def _conditional_headers(cached: CachedFetch | None) -> dict[str, str]:
    if cached is None or not cached.body:
        return {}
    headers = {}
    if cached.etag:
        headers["If-None-Match"] = cached.etag
    if cached.last_modified:
        headers["If-Modified-Since"] = cached.last_modified
    return headers


def _redirect_target(current: str, location: str) -> str:
    target = urljoin(current, location.strip())
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise FetchError(t("source.redirect_not_http", url=target[:120]))
    return target


async def _final(response: httpx.Response, url: str, limit: int) -> Fetched:
    code = response.status_code
    if code != 304 and not 200 <= code < 300:
        raise FetchError(f"HTTP {code} {response.reason_phrase}".strip())
    headers = {k.lower(): v for k, v in response.headers.items()}
    body = b"" if code == 304 else await _read_body(response, headers, limit)
    return Fetched(code, body, headers, url)


async def _read_body(response: httpx.Response, headers: dict[str, str], limit: int) -> bytes:
    """The decoded body, stopped as soon as it passes `limit` decoded bytes."""
    decoder = _Decoder(headers.get("content-encoding", ""), limit)
    declared = headers.get("content-length", "")
    if decoder.identity and declared.isdigit() and int(declared) > limit:
        raise FetchError(t("source.too_large", limit=limit))
    chunks = [decoder.feed(raw) async for raw in response.aiter_raw()]
    chunks.append(decoder.flush())
    return b"".join(chunks)


class _Decoder:
    """Undoes Content-Encoding itself, never producing more than `limit` bytes in all.

    Why not httpx's decoding: it inflates a whole network chunk at once, and 64 KB of
    gzip can inflate to 64 MB; here a gzip bomb stops after `limit` + 1 bytes.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(t("source.encoding", encoding=encoding[:40]))
        self.identity = encoding in ("", "identity")
        self.deflate = encoding == "deflate"
        self.inflater: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.limit, self.total = limit, 0

    def feed(self, raw: bytes) -> bytes:
        if self.deflate and self.inflater is None and raw:
            # "deflate" is zlib-wrapped by the RFC, raw deflate by many servers.
            wrapped = len(raw) > 1 and raw[0] & 0x0F == 8 and (raw[0] << 8 | raw[1]) % 31 == 0
            self.inflater = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        try:
            data = raw if self.inflater is None else self._inflate(raw)
        except zlib.error as exc:
            raise FetchError(t("source.corrupt", error=exc)) from None
        return self._count(data)

    def _inflate(self, raw: bytes) -> bytes:
        assert self.inflater is not None
        # One byte past the cap is enough to know the cap is passed.
        return self.inflater.decompress(raw, self.limit - self.total + 1)

    def flush(self) -> bytes:
        return self._count(self.inflater.flush() if self.inflater else b"")

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise FetchError(t("source.too_large", limit=self.limit))
        return data


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
