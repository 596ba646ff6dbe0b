"""The HTTP side of feed sources: one client, per-host and global widths, a deadline over
the whole exchange, redirects followed by hand (counted, http(s) only), and bodies decoded
by digest itself within the byte cap (a gzip bomb stops at `max_bytes` + 1).

    async with open_client(fetch, width) as c: await fetch_within_deadline(c, url, cached, fetch)

Every failure is a FetchError with a one-line reason in the staff language; feeds.py turns
it into the source's result.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __version__
from ..config import FetchConfig
from ..errors import FetchError
from ..i18n import t
from ..store import CachedFetch

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


@dataclass(frozen=True)
class Fetched:
    """A final (non-redirect) response: status, decoded body, headers, URL after redirects."""

    status: int
    body: bytes
    headers: dict[str, str]
    url: str


class Gates:
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


@asynccontextmanager
async def open_client(fetch: FetchConfig, width: int) -> AsyncIterator[httpx.AsyncClient]:
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


async def fetch_within_deadline(
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
    if cached is None or not cached.has_body:
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
