"""Loopback HTTP server fixture serving tests/data/feeds/ plus scripted routes.

A real `ThreadingHTTPServer` on 127.0.0.1, port 0, in a thread: the feed tests talk HTTP
to it exactly as to a partner's site. Routes:

    /feeds/NAME              the file tests/data/feeds/NAME (Content-Type by extension)
    /etag/NAME               the file with ETag and Last-Modified; 304 when they match
    /charset/NAME?cs=X       the file with "Content-Type: application/rss+xml; charset=X"
    /gzip/NAME, /deflate/NAME  the file compressed (raw deflate for /deflate)
    /redirect/N/NAME         N redirects, then /feeds/NAME
    /loop                    redirects to itself
    /to/SCHEME               redirects to SCHEME://... (file, ftp, javascript)
    /status/CODE             that status code
    /slow                    a byte every 0.2 s, for up to 60 s
    /huge?size=N             N bytes of valid-looking RSS with Content-Length
    /huge-chunked?size=N     the same without Content-Length (ends when the server closes)
    /gzip-bomb               Content-Encoding: gzip, 50 KB that inflate to 50 MB
    /json                    application/json
    /inline?body=NAME        a body registered by the test with `server.add(...)`
    /hold/NAME               the file after 0.3 s, counting how many requests overlap (in
                             all, and per Host header)
    /cached/NAME?cc=X        the file with "Cache-Control: X" and an ETag; 304 when it matches

`other_host` serves the same routes from 127.0.0.2 (a second host on the loopback).
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

FEEDS = Path(__file__).parent / "data" / "feeds"
ETAG = '"v1-climat"'
LAST_MODIFIED = "Thu, 11 May 2023 08:00:00 GMT"
TYPES = {".xml": "application/rss+xml", ".rdf": "application/rdf+xml", ".html": "text/html"}


@dataclass
class FeedServer:
    """The running server: its base URL, what it received, and bodies a test adds."""

    base: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # Requests to /hold/ in flight now, and the most ever seen at once.
    holding: int = 0
    most_held: int = 0
    held_by_host: dict[str, int] = field(default_factory=dict)
    most_by_host: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, name: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        """Serve `body` at a fresh URL and return it."""
        self.bodies[name] = (body, content_type)
        return self.url(f"/inline?body={name}")

    def headers_for(self, path: str) -> list[dict[str, str]]:
        """The request headers of every request to `path` (lower-cased names)."""
        return [headers for seen, headers in self.requests if seen == path]


@cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 50_000_000, compresslevel=9)


class Handler(BaseHTTPRequestHandler):
    server_state: ClassVar[FeedServer]

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output readable

    def do_GET(self) -> None:
        self.server_state.requests.append(
            (self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        head, _, rest = parts.path.lstrip("/").partition("/")
        route = getattr(self, "route_" + head.replace("-", "_"), None)
        if route is None:
            self.send_error(404)
        else:
            route(rest, query)

    def reply(self, body: bytes, content_type: str, *extra: tuple[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, code: int = 302) -> None:
        self.send_response(code)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def file(self, name: str) -> bytes | None:
        path = FEEDS / name
        if "/" in name or not path.is_file():
            self.send_error(404)
            return None
        return path.read_bytes()

    def route_feeds(self, name: str, query: dict[str, str]) -> None:
        body = self.file(name)
        if body is not None:
            self.reply(body, TYPES.get(Path(name).suffix, "application/octet-stream"))

    def route_etag(self, name: str, query: dict[str, str]) -> None:
        body = self.file(name)
        if body is None:
            return
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self.reply(body, "application/rss+xml", ("ETag", ETAG), ("Last-Modified", LAST_MODIFIED))

    def route_charset(self, name: str, query: dict[str, str]) -> None:
        body = self.file(name)
        if body is not None:
            self.reply(body, f"application/rss+xml; charset={query.get('cs', 'utf-8')}")

    def route_gzip(self, name: str, query: dict[str, str]) -> None:
        body = self.file(name)
        if body is not None:
            self.reply(gzip.compress(body), "application/rss+xml", ("Content-Encoding", "gzip"))

    def route_deflate(self, name: str, query: dict[str, str]) -> None:
        body = self.file(name)
        if body is not None:
            squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            raw = squeezer.compress(body) + squeezer.flush()
            self.reply(raw, "application/rss+xml", ("Content-Encoding", "deflate"))

    def route_redirect(self, rest: str, query: dict[str, str]) -> None:
        count, _, name = rest.partition("/")
        left = int(count)
        self.redirect(f"/redirect/{left - 1}/{name}" if left > 1 else f"/feeds/{name}", 301)

    def route_loop(self, rest: str, query: dict[str, str]) -> None:
        self.redirect("/loop")

    def route_to(self, scheme: str, query: dict[str, str]) -> None:
        targets = {
            "file": "file:///etc/passwd",
            "ftp": "ftp://ftp.example.org/feed.xml",
            "javascript": "javascript:alert(1)",
        }
        self.redirect(targets[scheme])

    def route_status(self, code: str, query: dict[str, str]) -> None:
        self.send_error(int(code))

    def route_slow(self, rest: str, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
        self.wfile.flush()
        stop = time.monotonic() + 60  # bounded, so a broken client cannot keep a thread
        while time.monotonic() < stop:
            time.sleep(0.2)
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:  # the client gave up: exactly what the test wants
                return

    def route_huge(self, rest: str, query: dict[str, str]) -> None:
        body = _padded_feed(int(query.get("size", "6000000")))
        self.reply(body, "application/rss+xml")

    def route_huge_chunked(self, rest: str, query: dict[str, str]) -> None:
        body = _padded_feed(int(query.get("size", "6000000")))
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for start in range(0, len(body), 65536):
                self.wfile.write(body[start : start + 65536])
        except OSError:
            pass  # the client stopped reading at its cap

    def route_gzip_bomb(self, rest: str, query: dict[str, str]) -> None:
        self.reply(gzip_bomb(), "application/rss+xml", ("Content-Encoding", "gzip"))

    def route_json(self, rest: str, query: dict[str, str]) -> None:
        self.reply(b'{"status": "ok", "items": []}', "application/json")

    def route_hold(self, name: str, query: dict[str, str]) -> None:
        state, host = self.server_state, self.headers.get("Host", "")
        with state.lock:
            state.holding += 1
            state.most_held = max(state.most_held, state.holding)
            state.held_by_host[host] = held = state.held_by_host.get(host, 0) + 1
            state.most_by_host[host] = max(state.most_by_host.get(host, 0), held)
        time.sleep(0.3)
        with state.lock:
            state.holding -= 1
            state.held_by_host[host] -= 1
        self.route_feeds(name, query)

    def route_cached(self, name: str, query: dict[str, str]) -> None:
        body = self.file(name)
        if body is None:
            return
        control = ("Cache-Control", query.get("cc", ""))
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header(*control)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self.reply(body, "application/rss+xml", control, ("ETag", ETAG))

    def route_inline(self, rest: str, query: dict[str, str]) -> None:
        body, content_type = self.server_state.bodies[query["body"]]
        self.reply(body, content_type)


def _padded_feed(size: int) -> bytes:
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Gros</title><!-- '
    tail = b" --></channel></rss>"
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


@contextmanager
def serving_feeds() -> Iterator[FeedServer]:
    """The server in a thread, for as long as the block runs (scripts/screenshots.py too)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = FeedServer(base=f"http://127.0.0.1:{server.server_address[1]}")
    Handler.server_state = state
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    """A real HTTP server on 127.0.0.1 for the whole test session."""
    with serving_feeds() as state:
        yield state


@pytest.fixture(scope="session")
def other_host(feed_server: FeedServer) -> Iterator[str]:
    """The base URL of the same routes on 127.0.0.2: another host, for per-host limits."""
    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.2:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
