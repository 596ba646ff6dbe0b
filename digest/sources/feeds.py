"""Feed sources: fetch over HTTP within hard limits, then parse off the event loop.

`collect_feeds` fetches every feed at once (httpx + asyncio, bounded concurrency) under a
total deadline per feed, a cap on decoded bytes, a redirect limit, http(s) only and a
conditional GET from the cache; parsing (feedparse.py) runs in worker processes
(feedpool.py) so both cores work. Every failure becomes a SourceResult with status "error"
and a one-line reason: nothing here raises because of a source.
"""

from __future__ import annotations

import asyncio
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
from ..models import Item, SourceResult
from ..store import CachedFetch
from .feedparse import parse_feed, self_describing
from .feedpool import ParseTimeout, parse_in_worker, parser_pool

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
# Above about 20 connections httpx spent its CPU managing the pool instead of reading.
MAX_CONNECTIONS = 20
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
Result = tuple[SourceResult, CachedFetch | None]
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
) -> list[Result]:
    """One (SourceResult, new cache entry or None) per source, in input order.

    `on_result` is called with each result as soon as it is ready (in completion order, on
    the event loop's thread): a progress bar, or work that need not wait for the others.
    """
    feeds = sum(1 for source in sources if source.url and source.enabled)
    with parser_pool(feeds) as pool:
        return asyncio.run(_collect(sources, cache, fetch, now, pool, on_result))


def items_from_cache(source: SourceConfig, cached: CachedFetch) -> SourceResult:
    """The items of the last body fetched (after a 304, or with --offline)."""
    try:
        items = parse_feed(cached.body, source, cached.url)
    except ParseError as exc:
        return _error(source, t("source.cache_unusable", error=exc.message))
    return SourceResult(
        source.name, "not_modified", items, etag=cached.etag, last_modified=cached.last_modified
    )


def read_feed_file(source: SourceConfig) -> SourceResult:
    """The items of a feed file on disk (a `path:` naming a file, e.g. a partner's export)."""
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
    """The items of the feed's `snapshot:` file, for --offline when nothing is cached.

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


async def _collect(
    sources: Sequence[SourceConfig],
    cache: Mapping[str, CachedFetch],
    fetch: FetchConfig,
    now: datetime,
    pool: Executor | None,
    on_result: OnResult | None,
) -> list[Result]:
    width = max(1, min(fetch.concurrency, MAX_CONNECTIONS))
    gate = asyncio.Semaphore(width)
    async with _client(fetch, width) as client:
        jobs = [_one(client, gate, pool, s, cache, fetch, now) for s in sources]
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


async def _one(
    client: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    pool: Executor | None,
    source: SourceConfig,
    cache: Mapping[str, CachedFetch],
    fetch: FetchConfig,
    now: datetime,
) -> Result:
    """Fetch and parse one source; any failure becomes an error result."""
    if not source.enabled:
        return SourceResult(source.name, "skipped"), None
    if not source.url:
        return read_feed_file(source), None
    started = time.monotonic()
    cached = cache.get(source.url)
    try:
        async with gate:
            fetched = await _fetch_within_deadline(client, source.url, cached, fetch)
        result, entry = await _interpret(fetched, source, cached, pool, now)
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


async def _interpret(
    fetched: Fetched,
    source: SourceConfig,
    cached: CachedFetch | None,
    pool: Executor | None,
    now: datetime,
) -> Result:
    """304: the cached items; 2xx: the parsed body and the cache entry to store."""
    if fetched.status == 304:
        if cached is None or not cached.body:
            raise FetchError(t("source.304_without_cache"))
        items = await _parse(pool, cached.body, source, cached.url, {})
        result = SourceResult(source.name, "not_modified", items)
        return replace(result, etag=cached.etag, last_modified=cached.last_modified), None
    items = await _parse(pool, fetched.body, source, fetched.url, fetched.headers)
    etag, modified = fetched.headers.get("etag"), fetched.headers.get("last-modified")
    # Stored only once it parsed: a broken body must not replace a good cached copy.
    body = self_describing(fetched.body, fetched.headers)[0]
    entry = CachedFetch(source.url or fetched.url, etag, modified, body, now)
    return SourceResult(source.name, "ok", items, etag=etag, last_modified=modified), entry


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
    if pool is None:  # no pool: there was no feed to fetch
        return parse_feed(body, source, base_url, headers)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, parse_in_worker, body, source, base_url, dict(headers))
