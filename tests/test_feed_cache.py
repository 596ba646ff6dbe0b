"""Warm rebuilds and politeness, over real HTTP (tests/http_server.py) and a real store.

A 304, an unchanged body or a copy Cache-Control calls fresh reuses the items parsed last
time: the stored `parsed_at` (when those items were parsed) is what shows that nothing was
parsed again. Feed files (`path:`) and offline snapshots are parsed in the worker processes
like fetched feeds, under the same CPU allowance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.config import FetchConfig, SourceConfig
from digest.errors import ParseError
from digest.models import Item, SourceResult
from digest.sources import feedpool, itemcache
from digest.sources.feedparse import parse_feed
from digest.sources.feeds import collect_feeds
from digest.sources.freshness import MAX_FRESHNESS
from digest.sources.itemcache import parse_key
from digest.store import CachedFetch, FetchForget, FetchRefresh, Store
from digest.store.schema import MIGRATIONS
from tests.http_server import FeedServer
from tests.store_support import store_at_version

pytestmark = pytest.mark.usefixtures("english_staff")

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2023, 5, 15, 8, 0, tzinfo=UTC)
QUICK = FetchConfig(deadline=5.0)


def build(store: Store, sources: list[SourceConfig], now: datetime) -> list[SourceResult]:
    """What a build does with the feeds: collect them from the store's cache (bodies left
    out where parsed items are stored), store it back."""
    cache = {s.url: c for s in sources if s.url and (c := store.cached_fetch(s.url, parse_key(s)))}
    results = collect_feeds(sources, cache, QUICK, now)
    store.remember_fetches(entry for _, entry in results if entry is not None)
    return [result for result, _ in results]


def stored(store: Store, url: str) -> CachedFetch:
    cached = store.cached_fetch(url)
    assert cached is not None
    return cached


def parsed_at(store: Store, url: str) -> datetime:
    parsed = stored(store, url).parsed
    assert parsed is not None
    return parsed.parsed_at


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "digest.db") as opened:
        yield opened


# -- politeness ------------------------------------------------------------------------


def test_each_host_gets_at_most_per_host_connections(
    feed_server: FeedServer, other_host: str
) -> None:
    feed_server.most_held, feed_server.most_by_host = 0, {}
    bases = [feed_server.base, other_host]
    sources = [
        SourceConfig(name=f"S{n}", url=f"{bases[n % 2]}/hold/rss10.rdf?host={n}") for n in range(12)
    ]
    results = collect_feeds(sources, {}, FetchConfig(concurrency=10, per_host=2), NOW)
    assert [r.status for r, _ in results] == ["ok"] * 12
    hosts = {base.removeprefix("http://") for base in bases}
    assert {host: feed_server.most_by_host[host] for host in hosts} == dict.fromkeys(hosts, 2)
    # Two hosts at once: the limit is per host, not one global width of 2.
    assert feed_server.most_held == 4


# -- reusing parsed items ----------------------------------------------------------------


def test_a_304_reuses_the_stored_items_without_parsing(
    feed_server: FeedServer, store: Store
) -> None:
    url = feed_server.url("/etag/rss20.xml?warm=304")
    source = SourceConfig(name="Partenaire", url=url)
    [first] = build(store, [source], NOW)
    assert parsed_at(store, url) == NOW
    later = NOW + timedelta(days=7)
    [second] = build(store, [source], later)
    assert feed_server.headers_for("/etag/rss20.xml?warm=304")[-1]["if-none-match"]
    assert second.status == "not_modified"
    assert second.items == first.items
    assert parsed_at(store, url) == NOW  # not parsed again
    assert stored(store, url).fetched_at == later


def test_an_unchanged_body_is_not_parsed_again(feed_server: FeedServer, store: Store) -> None:
    url = feed_server.url("/feeds/atom.xml?warm=200")  # no validators: a 200 every time
    source = SourceConfig(name="Partenaire", url=url)
    [first] = build(store, [source], NOW)
    [second] = build(store, [source], NOW + timedelta(hours=2))
    assert second.status == "ok" and second.items == first.items
    assert parsed_at(store, url) == NOW


def test_a_new_parser_version_or_source_setting_parses_again(
    feed_server: FeedServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = feed_server.url("/etag/atom.xml?warm=version")
    build(store, [SourceConfig(name="Partenaire", url=url)], NOW)
    monkeypatch.setattr(itemcache, "PARSER_VERSION", itemcache.PARSER_VERSION + 1)
    bumped = NOW + timedelta(days=1)
    build(store, [SourceConfig(name="Partenaire", url=url)], bumped)
    assert parsed_at(store, url) == bumped
    renamed = NOW + timedelta(days=2)
    [result] = build(store, [SourceConfig(name="Partenaire (nouveau nom)", url=url)], renamed)
    assert parsed_at(store, url) == renamed
    assert {item.source for item in result.items} == {"Partenaire (nouveau nom)"}
    # What themes do with a source's items is not parsing: its theme changes no key.
    themed = SourceConfig(name="Partenaire (nouveau nom)", url=url, theme="climat")
    build(store, [themed], NOW + timedelta(days=3))
    assert parsed_at(store, url) == renamed


def test_a_damaged_parsed_copy_is_parsed_again(feed_server: FeedServer, store: Store) -> None:
    url = feed_server.url("/etag/rss20.xml?warm=damaged")
    source = SourceConfig(name="Partenaire", url=url)
    [first] = build(store, [source], NOW)
    store.db.execute("UPDATE fetch_copy SET parsed_items = ? WHERE url = ?", (b"{not zlib", url))
    store.db.commit()
    later = NOW + timedelta(days=1)
    [second] = build(store, [source], later)
    assert second.items == first.items
    assert parsed_at(store, url) == later


def test_the_body_is_read_only_when_the_stored_items_do_not_serve(
    feed_server: FeedServer, store: Store
) -> None:
    url = feed_server.url("/etag/rss20.xml?warm=lazy")
    source = SourceConfig(name="Partenaire", url=url)
    build(store, [source], NOW)
    body = stored(store, url).body
    assert body.startswith(b"<?xml")
    lazy = store.cached_fetch(url, parse_key(source))
    assert lazy is not None and lazy.body == b"" and lazy.has_body
    assert lazy.body_bytes() == body  # read from the store when asked
    other = store.cached_fetch(url, parse_key(SourceConfig(name="Autre nom", url=url)))
    assert other is not None and other.body == body and other.load_body is None


def test_items_from_the_parsed_cache_equal_freshly_parsed_items() -> None:
    """Every feed file of the tests and of the real-world corpus that parses: its items come
    back from the cache equal, field for field (dates, tuples, None, languages...)."""
    source = SourceConfig(name="Partenaire", url="https://partenaire.example.org/feed")
    corpus = FEEDS.parent / "corpus"
    files = [p for p in FEEDS.iterdir() if p.suffix != ".html"]
    files += [
        p
        for p in corpus.rglob("*")
        if p.is_file() and p.suffix in (".xml", ".rss", ".atom", ".json", ".rdf")
    ]
    round_trips = 0
    for path in sorted(files):
        try:
            items = parse_feed(path.read_bytes(), source, source.url)
        except ParseError:
            continue  # not a usable feed: nothing is cached for it
        assert itemcache.decode_items(itemcache.encode_items(items)) == items, path
        round_trips += bool(items)
    assert round_trips >= 100


def test_a_parsed_copy_of_another_shape_is_refused() -> None:
    required = {"key": ["k"], "title": ["t"], "url": [None], "source": ["s"]}

    def copy(count: int = 1, **columns: list[object]) -> bytes:
        document = {"count": count, "columns": {**required, **columns}}
        return itemcache.zlib.compress(json.dumps(document).encode())

    per_item = [{"key": "k", "title": "t", "url": None, "published": None, "source": "s"}]
    wrong = [
        b"not zlib",
        itemcache.zlib.compress(json.dumps(per_item).encode()),  # the format before
        copy(published=[None], key=[1]),
        copy(published=[None], gone=["a field Item no longer has"]),
        copy(published=["not a date"]),
        copy(),  # a field every item has is not written
        copy(2, published=[None]),  # columns shorter than the count
        copy(published=[None], fragment_key=[1]),
    ]
    assert [itemcache.decode_items(data) for data in wrong] == [None] * len(wrong)
    right = Item(key="k", title="t", url=None, published=None, source="s")
    assert itemcache.decode_items(copy(published=[None])) == (right,)


# -- Cache-Control -----------------------------------------------------------------------


def test_max_age_skips_the_request_until_it_expires(feed_server: FeedServer, store: Store) -> None:
    path = "/cached/rss20.xml?cc=max-age%3D600"
    url = feed_server.url(path)
    source = SourceConfig(name="Partenaire", url=url)
    [first] = build(store, [source], NOW)
    assert stored(store, url).fresh_until == NOW + timedelta(seconds=600)
    [fresh] = build(store, [source], NOW + timedelta(seconds=300))
    assert len(feed_server.headers_for(path)) == 1  # the server saw no second request
    assert fresh.status == "not_modified" and fresh.items == first.items
    [expired] = build(store, [source], NOW + timedelta(seconds=601))
    assert len(feed_server.headers_for(path)) == 2
    assert expired.status == "not_modified"
    assert stored(store, url).fresh_until == NOW + timedelta(seconds=1201)


def test_a_long_max_age_is_capped(feed_server: FeedServer, store: Store) -> None:
    url = feed_server.url("/cached/atom.xml?cc=public,%20max-age%3D31536000")
    build(store, [SourceConfig(name="Partenaire", url=url)], NOW)
    assert stored(store, url).fresh_until == NOW + MAX_FRESHNESS


def test_no_cache_asks_every_time(feed_server: FeedServer, store: Store) -> None:
    path = "/cached/rss20.xml?cc=no-cache,%20max-age%3D600"
    source = SourceConfig(name="Partenaire", url=feed_server.url(path))
    build(store, [source], NOW)
    build(store, [source], NOW + timedelta(seconds=60))
    assert stored(store, feed_server.url(path)).fresh_until is None
    assert len(feed_server.headers_for(path)) == 2


def test_no_store_keeps_no_copy(feed_server: FeedServer, store: Store) -> None:
    url = feed_server.url("/cached/rss20.xml?cc=no-store")
    source = SourceConfig(name="Partenaire", url=url)
    store.remember_fetch(CachedFetch(url, '"old"', None, b"<rss/>", NOW))
    [(result, entry)] = collect_feeds([source], {}, QUICK, NOW)
    assert result.status == "ok" and len(result.items) == 3
    assert isinstance(entry, FetchForget)
    store.remember_fetches([entry])
    assert store.cached_fetch(url) is None


def test_offline_reads_the_stored_items(feed_server: FeedServer, store: Store) -> None:
    url = feed_server.url("/feeds/rss10.rdf?warm=offline")
    source = SourceConfig(name="Partenaire", url=url)
    [first] = build(store, [source], NOW)
    cache = {url: stored(store, url)}
    [(result, entry)] = collect_feeds([source], cache, QUICK, NOW, offline=True)
    assert len(feed_server.headers_for("/feeds/rss10.rdf?warm=offline")) == 1
    assert (result.status, result.items, entry) == ("not_modified", first.items, None)


def test_a_304_with_a_new_parser_version_stores_the_new_items(
    feed_server: FeedServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = feed_server.url("/etag/rss20.xml?warm=refresh")
    source = SourceConfig(name="Partenaire", url=url)
    build(store, [source], NOW)
    monkeypatch.setattr(itemcache, "PARSER_VERSION", itemcache.PARSER_VERSION + 1)
    cache = {url: stored(store, url)}
    [(result, entry)] = collect_feeds([source], cache, QUICK, NOW + timedelta(days=1))
    assert result.status == "not_modified" and isinstance(entry, FetchRefresh)
    assert entry.parsed is not None and entry.parsed.key == itemcache.parse_key(source)


# -- feed files and snapshots ------------------------------------------------------------

RELATIVE_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>Parc</title><link>/</link><description>Actualités</description>
<atom:link rel="self" type="application/rss+xml" href="https://parc.example.org/flux.xml"/>
<item><title>Sortie nature</title><link>/actualites/sortie</link>
<description>&lt;p&gt;Voir &lt;a href="programme.pdf"&gt;le programme&lt;/a&gt;
&lt;img src="/images/sortie.jpg"&gt;&lt;/p&gt;</description></item>
</channel></rss>
"""

RELATIVE_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Parc</title><id>urn:parc</id>
<updated>2023-05-10T08:00:00Z</updated>
<link rel="self" href="https://parc.example.org/atom/flux.xml"/>
<entry><title>Sortie nature</title><id>urn:parc:1</id><updated>2023-05-10T08:00:00Z</updated>
<link href="sortie"/></entry>
</feed>
"""


def test_a_feed_file_resolves_relative_links_against_its_self_link(tmp_path: Path) -> None:
    (tmp_path / "parc.xml").write_text(RELATIVE_RSS, encoding="utf-8")
    (tmp_path / "parc.atom").write_text(RELATIVE_ATOM, encoding="utf-8")
    sources = [SourceConfig(name="Parc", path=tmp_path / n) for n in ("parc.xml", "parc.atom")]
    [(rss, _), (atom, _)] = collect_feeds(sources, {}, QUICK, NOW)
    [item] = rss.items
    assert item.url == "https://parc.example.org/actualites/sortie"
    assert 'href="https://parc.example.org/actualites/programme.pdf"' in item.summary_html
    assert item.image == "https://parc.example.org/images/sortie.jpg"
    assert [i.url for i in atom.items] == ["https://parc.example.org/atom/sortie"]


def hostile_body() -> bytes:
    """30,000 attributes on one element: 0.3 MB that would cost feedparser many seconds."""
    attributes = " ".join(f'a{n}="v"' for n in range(30_000))
    body = f'<rss version="2.0"><channel><title>T</title><item {attributes}>'
    return (body + "<title>Climat</title></item></channel></rss>").encode()


def test_feed_files_and_snapshots_have_the_cpu_allowance(tmp_path: Path) -> None:
    body = hostile_body()
    (tmp_path / "costly.xml").write_bytes(body)
    limit = feedpool.parse_cpu_limit(len(body))
    sources = [
        SourceConfig(name="Disk", path=tmp_path / "costly.xml"),
        SourceConfig(
            name="Demo", url="https://partenaire.example.org/feed", snapshot=tmp_path / "costly.xml"
        ),
    ]
    results = collect_feeds(sources, {}, QUICK, NOW, offline=True)
    refused = f"took more than {limit:.1f} s of CPU to parse: refused"
    assert [(r.status, r.error) for r, _ in results] == [
        ("error", f"costly.xml: {refused}"),
        ("error", f"snapshot costly.xml: {refused}"),
    ]


# -- the store ------------------------------------------------------------------------------


def test_a_refresh_reads_and_writes_the_validators_not_the_body(tmp_path: Path) -> None:
    """A 304 records new times only. SQLite reads a whole row to update it, overflow pages
    and all: with the body and the items in the same row, recording 200 times read 20 MB
    (0.1 s of a 1.8 s rebuild, BENCHMARKS.md). They live in a table of their own."""
    url = "https://a.example/feed"
    body = bytes(range(256)) * 800
    with Store(tmp_path / "digest.db") as store:
        store.remember_fetch(CachedFetch(url, '"v1"', None, body, NOW, "h"))
        later = NOW + timedelta(days=1)
        store.remember_fetches([FetchRefresh(url, '"v2"', None, later, None)])
        again = stored(store, url)
        refreshed = {row[1] for row in store.db.execute("PRAGMA table_info(fetch_cache)")}
    assert (again.etag, again.fetched_at, again.body, again.body_hash) == ('"v2"', later, body, "h")
    assert refreshed == {"url", "etag", "last_modified", "fetched_at", "fresh_until"}


def test_the_store_migrates_its_fetch_cache_into_two_tables(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    with store_at_version(path, 9) as db:
        db.execute(
            "INSERT INTO fetch_cache (url, etag, last_modified, body, fetched_at, body_hash,"
            " fresh_until, parsed_key, parsed_items, parsed_at)"
            " VALUES ('https://a.example/feed', '\"e\"', 'lm', x'3c72737320', ?, 'h', NULL,"
            " 'k', x'00', ?)",
            (NOW.isoformat(), NOW.isoformat()),
        )
    with Store(path) as store:
        cached = store.cached_fetch("https://a.example/feed")
        assert store.schema_version == len(MIGRATIONS)
    assert cached is not None
    assert (cached.etag, cached.last_modified, cached.body, cached.body_hash) == (
        '"e"',
        "lm",
        b"<rss ",
        "h",
    )
    assert cached.parsed is not None and cached.parsed.items == b"\x00"
