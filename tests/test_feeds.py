"""Fetching feeds over real HTTP (tests/http_server.py): limits, cache, failures as values."""

from __future__ import annotations

import gc
import signal
import socket
import sys
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import FetchConfig, SourceConfig
from digest.errors import ParseError
from digest.models import SourceResult
from digest.sources import feedpool, feeds
from digest.sources.feeds import collect_feeds, items_from_cache, read_feed_file
from digest.store import CachedFetch, CacheUpdate, FetchRefresh
from tests.http_server import ETAG, LAST_MODIFIED, FeedServer, gzip_bomb

# Why a source failed is staff output: read here in English (conftest's english_staff).
pytestmark = pytest.mark.usefixtures("english_staff")

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2023, 5, 15, 8, 0, tzinfo=UTC)
QUICK = FetchConfig(deadline=5.0)


def fetch_one(
    url: str, fetch: FetchConfig = QUICK, cache: dict[str, CachedFetch] | None = None
) -> tuple[SourceResult, CacheUpdate | None]:
    source = SourceConfig(name="Partenaire", url=url)
    [(result, entry)] = collect_feeds([source], cache or {}, fetch, NOW)
    return result, entry


def test_rss_feed_is_fetched_parsed_and_cached(feed_server: FeedServer) -> None:
    url = feed_server.url("/feeds/rss20.xml")
    result, entry = fetch_one(url)
    assert result.status == "ok", result.error
    assert [item.title for item in result.items] == [
        "Atlas de la biodiversité communale : 12 nouvelles communes engagées",
        "Économie circulaire : appel à projets « Territoires zéro déchet »",
        "Concertation citoyenne sur le plan climat de la métropole",
    ]
    assert all(item.source == "Partenaire" and item.origin == "feed" for item in result.items)
    assert entry is not None and entry.url == url and entry.fetched_at == NOW
    assert_cached_copy_of(entry.body, "rss20.xml")


def assert_cached_copy_of(body: bytes, name: str) -> None:
    """The cache holds the feed as UTF-8 that says so, otherwise unchanged."""
    declaration, _, rest = body.partition(b"?>")
    assert declaration + _ == b"<?xml version='1.0' encoding='utf-8'?>"
    assert rest == (FEEDS / name).read_bytes().partition(b"?>")[2]


def test_user_agent_names_digest_or_the_configured_one(feed_server: FeedServer) -> None:
    fetch_one(feed_server.url("/feeds/atom.xml?ua=default"))
    fetch_one(feed_server.url("/feeds/atom.xml?ua=custom"), FetchConfig(user_agent="Cerdd/1.0"))
    [default] = feed_server.headers_for("/feeds/atom.xml?ua=default")
    [custom] = feed_server.headers_for("/feeds/atom.xml?ua=custom")
    assert default["user-agent"] == feeds.USER_AGENT
    assert default["user-agent"].startswith("digest/0.1.0 (newsletter feed reader")
    assert custom["user-agent"] == "Cerdd/1.0"
    assert "if-none-match" not in default


def test_etag_then_304_gives_the_cached_items(feed_server: FeedServer) -> None:
    url = feed_server.url("/etag/rss20.xml")
    first, entry = fetch_one(url)
    assert first.status == "ok" and entry is not None
    assert (entry.etag, entry.last_modified) == (ETAG, LAST_MODIFIED)
    assert isinstance(entry, CachedFetch)
    second, again = fetch_one(url, cache={url: entry})
    # The items parsed from the first body, not parsed again: nothing new to store for them.
    assert second.status == "not_modified" and isinstance(again, FetchRefresh)
    assert (again.etag, again.parsed) == (ETAG, None)
    assert [i.key for i in second.items] == [i.key for i in first.items]
    assert len(second.items) == 3
    conditional = feed_server.headers_for("/etag/rss20.xml")[-1]
    assert conditional["if-none-match"] == ETAG
    assert conditional["if-modified-since"] == LAST_MODIFIED


def test_redirects_are_followed_up_to_the_limit(feed_server: FeedServer) -> None:
    result, entry = fetch_one(feed_server.url("/redirect/3/atom.xml"), FetchConfig(max_redirects=3))
    assert result.status == "ok" and len(result.items) == 2
    assert entry is not None and entry.url == feed_server.url("/redirect/3/atom.xml")
    result, _ = fetch_one(feed_server.url("/redirect/4/atom.xml"), FetchConfig(max_redirects=3))
    assert (result.status, result.error) == ("error", "too many redirects (more than 3)")


def test_redirect_loop_is_an_error(feed_server: FeedServer) -> None:
    result, entry = fetch_one(feed_server.url("/loop"))
    assert (result.status, result.error, entry) == (
        "error",
        "too many redirects (more than 3)",
        None,
    )


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [
        ("file", "redirect to a non-http(s) URL refused: file:///etc/passwd"),
        ("ftp", "redirect to a non-http(s) URL refused: ftp://ftp.example.org/feed.xml"),
        # httpx itself refuses to parse this Location: the message says so.
        ("javascript", "redirect to an invalid URL refused: "),
    ],
)
def test_redirect_to_a_non_http_scheme_is_refused(
    feed_server: FeedServer, scheme: str, reason: str
) -> None:
    result, _ = fetch_one(feed_server.url(f"/to/{scheme}"))
    assert result.status == "error" and result.items == ()
    assert result.error is not None and result.error.startswith(reason)


@pytest.mark.parametrize(
    ("code", "reason"), [(404, "HTTP 404 Not Found"), (410, "HTTP 410 Gone"), (500, "HTTP 500")]
)
def test_http_errors_become_error_results(feed_server: FeedServer, code: int, reason: str) -> None:
    result, entry = fetch_one(feed_server.url(f"/status/{code}"))
    assert result.status == "error" and entry is None
    assert result.error is not None and result.error.startswith(reason)


def test_a_trickling_server_is_cut_at_the_total_deadline(feed_server: FeedServer) -> None:
    # A byte every 0.2 s never trips a per-read timeout: only a total deadline can end this
    # fetch, and the server would go on for 60 s.
    result, entry = fetch_one(feed_server.url("/slow"), FetchConfig(deadline=1))
    assert (result.status, result.error, entry) == ("error", "timed out after 1 s", None)


@pytest.mark.parametrize("route", ["/huge?size=1000000", "/huge-chunked?size=1000000"])
def test_a_body_over_max_bytes_is_refused(feed_server: FeedServer, route: str) -> None:
    result, entry = fetch_one(feed_server.url(route), FetchConfig(max_bytes=100_000))
    assert (result.status, result.error, entry) == ("error", "larger than 100000 bytes", None)


def test_a_gzip_bomb_stops_at_the_decoded_cap(feed_server: FeedServer) -> None:
    gzip_bomb()  # built (50 MB of zeros, compressed) before memory is traced
    tracemalloc.start()
    try:
        result, _ = fetch_one(feed_server.url("/gzip-bomb"), FetchConfig(max_bytes=1_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.status, result.error) == ("error", "larger than 1000000 bytes")
    # The bomb inflates to 50 MB; stopping at the cap keeps memory near 1 MB, not 50.
    assert peak < 50_000_000 / 5


@pytest.mark.parametrize("route", ["/gzip/rss20.xml", "/deflate/rss20.xml"])
def test_compressed_feeds_are_decoded(feed_server: FeedServer, route: str) -> None:
    result, entry = fetch_one(feed_server.url(route))
    assert result.status == "ok" and len(result.items) == 3
    assert entry is not None
    assert_cached_copy_of(entry.body, "rss20.xml")


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ("/feeds/page.html", "not a feed (got text/html)"),
        ("/json", "not a feed (got application/json)"),
        ("/feeds/broken.xml", "malformed feed with no entries"),
    ],
)
def test_what_is_not_a_feed_is_an_error(feed_server: FeedServer, route: str, reason: str) -> None:
    result, entry = fetch_one(feed_server.url(route))
    assert result.status == "error" and entry is None
    assert result.error is not None and result.error.startswith(reason)


def test_a_refused_connection_is_an_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result, _ = fetch_one(f"http://127.0.0.1:{port}/feed.xml")
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("connection failed")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/feed.xml", "invalid URL: "),
        ("file:///etc/passwd", "not an http(s) URL: file:///etc/passwd"),
    ],
)
def test_an_unusable_url_is_an_error(url: str, reason: str) -> None:
    result, entry = fetch_one(url)
    assert result.status == "error" and entry is None
    assert result.error is not None and result.error.startswith(reason)


def test_one_broken_source_among_good_ones(feed_server: FeedServer) -> None:
    # Five feeds: enough to go through the worker processes.
    names = ["rss20.xml", "status/410", "atom.xml", "rss10.rdf", "feeds/page.html"]
    urls = [feed_server.url("/" + (n if "/" in n else "feeds/" + n)) for n in names]
    sources = [SourceConfig(name=f"S{n}", url=url) for n, url in enumerate(urls)]
    results = collect_feeds(sources, {}, QUICK, NOW)
    assert [r.name for r, _ in results] == ["S0", "S1", "S2", "S3", "S4"]
    assert [r.status for r, _ in results] == ["ok", "error", "ok", "ok", "error"]
    assert [len(r.items) for r, _ in results] == [3, 0, 2, 2, 0]
    assert results[1][0].error == "HTTP 410 Gone"
    assert results[4][0].error == "not a feed (got text/html)"
    assert [entry is not None for _, entry in results] == [True, False, True, True, False]
    assert results[2][0].items[0].title == "Budget participatif : les lauréats 2023"


def test_no_more_feeds_at_once_than_fetch_concurrency(feed_server: FeedServer) -> None:
    feed_server.most_held = 0
    sources = [
        SourceConfig(name=f"S{n}", url=feed_server.url(f"/hold/rss10.rdf?n={n}")) for n in range(8)
    ]
    results = collect_feeds(sources, {}, FetchConfig(concurrency=3), NOW)
    assert [r.status for r, _ in results] == ["ok"] * 8
    assert feed_server.most_held == 3


def test_header_charset_survives_the_cache(feed_server: FeedServer) -> None:
    # latin-1 bytes with no XML declaration: only the Content-Type says iso-8859-1.
    url = feed_server.url("/charset/latin1-header.xml?cs=iso-8859-1")
    result, entry = fetch_one(url)
    title = "Café-climat : éco-anxiété et engagement"
    assert [i.title for i in result.items] == [title]
    assert entry is not None
    cached = items_from_cache(SourceConfig(name="MDE", url=url), entry)
    assert cached.status == "not_modified"
    assert [i.title for i in cached.items] == [title]


def test_items_from_cache_reports_an_unusable_copy() -> None:
    cached = CachedFetch("https://example.org/feed", None, None, b"<html></html>", NOW)
    result = items_from_cache(SourceConfig(name="X", url=cached.url), cached)
    assert (result.status, result.error) == (
        "error",
        "cached copy unusable: not a feed (got no Content-Type)",
    )


def test_read_feed_file_reads_a_feed_on_disk() -> None:
    result = read_feed_file(SourceConfig(name="Parc", path=FEEDS / "latin1.xml"))
    assert result.status == "ok"
    assert [i.title for i in result.items] == ["Fête de la nature : sorties découverte en forêt"]
    page = read_feed_file(SourceConfig(name="Page", path=FEEDS / "page.html"))
    assert (page.status, page.error) == ("error", "page.html: not a feed (got no Content-Type)")
    missing = read_feed_file(SourceConfig(name="Absent", path=FEEDS / "absent.xml"))
    assert missing.status == "error" and "absent.xml" in (missing.error or "")


def test_disabled_and_file_sources_in_collect(feed_server: FeedServer) -> None:
    sources = [
        SourceConfig(name="Off", url=feed_server.url("/feeds/rss20.xml"), enabled=False),
        SourceConfig(name="Disk", path=FEEDS / "rss10.rdf"),
    ]
    results = collect_feeds(sources, {}, QUICK, NOW)
    assert [(r.name, r.status, len(r.items)) for r, _ in results] == [
        ("Off", "skipped", 0),
        ("Disk", "ok", 2),
    ]


def test_a_parse_that_runs_too_long_is_stopped() -> None:
    # The CPU timer the worker processes install, tried here in the test process. Earlier
    # tests' garbage is collected first and the collector held off while the timer is armed:
    # a timer firing inside a finalizer would be reported by pytest as an unraisable error
    # (the worker drops those reports; here the test process's hook is pytest's).
    previous = signal.getsignal(signal.SIGVTALRM)
    previous_hook = sys.unraisablehook
    feedpool.worker_init()
    gc.collect()
    gc.disable()
    entries = "".join(
        f"<item><title>Article {n}</title><link>https://ex.org/{n}</link></item>"
        for n in range(3000)
    )
    body = f'<rss version="2.0"><channel><title>T</title>{entries}</channel></rss>'.encode()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(feedpool, "PARSE_CPU_BASE_S", 0.01)
            patch.setattr(feedpool, "PARSE_CPU_PER_MB_S", 0.0)
            with pytest.raises(ParseError, match=r"took more than 0\.0 s of CPU to parse"):
                feedpool.parse_in_worker(body, SourceConfig(name="X"), None, {})
        assert len(feedpool.parse_in_worker(body, SourceConfig(name="X"), None, {})) == 3000
    finally:
        gc.enable()
        signal.signal(signal.SIGVTALRM, previous)
        sys.unraisablehook = previous_hook


def test_the_worker_hook_drops_only_timeouts_fired_inside_finalizers() -> None:
    seen: list[type[BaseException] | type[None]] = []

    def record(args: sys.UnraisableHookArgs) -> None:
        seen.append(type(args.exc_value))

    hook = feedpool._quiet_timeouts(record)

    class Finalized:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def __del__(self) -> None:
            raise self.error

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        Finalized(feedpool.ParseTimeout())
        Finalized(ValueError("kept"))
    finally:
        sys.unraisablehook = previous
    assert seen == [ValueError]


def test_a_feed_costly_beyond_its_size_is_stopped(feed_server: FeedServer) -> None:
    # 30,000 attributes on one element: 0.3 MB that would cost feedparser several seconds
    # (its attribute handling is quadratic). The worker stops it at its CPU allowance.
    attributes = " ".join(f'a{n}="v"' for n in range(30_000))
    body = f'<rss version="2.0"><channel><title>T</title><item {attributes}>'
    body += "<title>Climat</title></item></channel></rss>"
    url = feed_server.add("attributes", body.encode())
    limit = feedpool.parse_cpu_limit(len(body))
    result, entry = fetch_one(url)
    assert (result.status, entry) == ("error", None)
    assert result.error == f"took more than {limit:.1f} s of CPU to parse: refused"


def test_each_result_is_reported_as_soon_as_it_is_ready(feed_server: FeedServer) -> None:
    """The progress bar (and the early reading of items) follows the feeds as they land."""
    held = feed_server.url("/hold/rss10.rdf")  # answered after 0.3 s
    sources = [
        SourceConfig(name="Held", url=held),
        SourceConfig(name="Quick", url=feed_server.url("/feeds/rss20.xml")),
        SourceConfig(name="Disk", path=FEEDS / "atom.xml"),
    ]
    reported: list[tuple[str, int]] = []
    results = collect_feeds(
        sources, {}, QUICK, NOW, on_result=lambda r: reported.append((r.name, len(r.items)))
    )
    assert [r.name for r, _ in results] == ["Held", "Quick", "Disk"]  # the config's order
    assert sorted(reported) == [("Disk", 2), ("Held", 2), ("Quick", 3)]
    assert reported[-1] == ("Held", 2)  # in the order they were ready
