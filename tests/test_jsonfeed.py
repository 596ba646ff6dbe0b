"""JSON Feed 1 and 1.1: real feeds from the corpus, over real HTTP, and hostile documents."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.config import FetchConfig, SourceConfig
from digest.errors import ParseError
from digest.models import Item
from digest.sources import feedpool
from digest.sources.feedparse import parse_feed
from digest.sources.feeds import ACCEPT, collect_feeds, items_from_cache
from tests.http_server import FeedServer

# Why a feed is refused is staff output: compared here in English.
pytestmark = pytest.mark.usefixtures("english_staff")

CORPUS = Path(__file__).parent / "data" / "corpus"
NOW = datetime(2023, 5, 15, 8, 0, tzinfo=UTC)
SOURCE = SourceConfig(name="Partenaire", url="https://partenaire.example.org/feed.json")
VERSION_1_1 = "https://jsonfeed.org/version/1.1"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def feed(*items: object, **fields: object) -> bytes:
    """A JSON Feed 1.1 document with these items and feed-level fields."""
    return json.dumps({"version": VERSION_1_1, **fields, "items": list(items)}).encode()


def parse(body: bytes, base: str | None = None, content_type: str = "") -> tuple[Item, ...]:
    headers = {"Content-Type": content_type} if content_type else {}
    return parse_feed(body, SOURCE, base, headers)


def fetch(server: FeedServer, body: bytes, content_type: str, name: str) -> Any:
    url = server.add(name, body, content_type)
    source = SourceConfig(name="Partenaire", url=url)
    [(result, entry)] = collect_feeds([source], {}, FetchConfig(deadline=5.0), NOW)
    return result, entry


# -- real feeds ----------------------------------------------------------------------------


def test_a_real_json_feed_is_fetched_parsed_and_cached(feed_server: FeedServer) -> None:
    body = corpus("netnewswire/DaringFireball.json")
    result, entry = fetch(feed_server, body, "application/feed+json", "daringfireball")
    assert result.status == "ok", result.error
    assert len(result.items) == 48
    first = result.items[0]
    assert first.title == "The Talk Show: ‘I Do Like Throwing a Baby’"
    assert first.url == "https://daringfireball.net/linked/2017/06/26/the-talk-show-195"
    assert first.guid == first.url and first.author == "John Gruber"
    assert first.published == datetime(2017, 6, 27, 0, 54, 17, tzinfo=UTC)
    assert first.summary_text.startswith("New episode of America’s favorite 3-star podcast")
    # The cached body is the JSON as served; a 304 reads it again without any headers.
    assert entry is not None and entry.body == body
    assert items_from_cache(SOURCE, entry).items == result.items


def test_the_fetch_asks_for_json_feeds(feed_server: FeedServer) -> None:
    fetch(feed_server, corpus("feed-rs/jsonfeed_spec_1.json"), "application/json", "spec")
    assert "application/feed+json" in ACCEPT
    [headers] = feed_server.headers_for("/inline?body=spec")
    assert "application/feed+json" in headers["accept"]


@pytest.mark.parametrize("content_type", ["application/feed+json", "application/json", ""])
def test_json_feed_is_read_whatever_it_is_served_as(content_type: str) -> None:
    items = parse(corpus("feed-rs/jsonfeed_spec_1.json"), content_type=content_type)
    assert [(item.title, item.url) for item in items] == [
        ("Announcing JSON Feed", "https://jsonfeed.org/2017/05/17/announcing_json_feed")
    ]


def test_version_1_1_with_tags_authors_and_rfc822_dates() -> None:
    items = parse(corpus("feed-rs/jsonfeed_elastic_1.1.json"))
    assert len(items) == 3
    assert items[0].categories == ("InfluxDB", "Community", "Elasticsearch", "Time Series Database")
    assert items[0].author == "Chris Churilo"
    # This feed writes RSS's dates ("Fri, 31 May 2019 ..."), not RFC 3339: read anyway.
    assert items[0].published == datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC)


def test_linkblog_items_link_to_their_permalink_not_the_external_page() -> None:
    items = parse(corpus("netnewswire/pxlnv.json"))
    assert len(items) == 20
    assert all(item.url and item.url.startswith("https://pxlnv.com/") for item in items)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        # Scripting News' "RSS in JSON": JSON, but not a JSON Feed.
        ("netnewswire/ScriptingNews.json", "not a feed (got no Content-Type)"),
        # gofeed's fixtures say "version": "1.0", which names no JSON Feed version.
        ("gofeed/version_json_11.json", "not a feed (got no Content-Type)"),
        ("netnewswire/allthis-partial.json", "unreadable JSON Feed: Invalid control character"),
        ("gofeed/invalid.json", "unreadable JSON Feed: Expecting ','"),
    ],
)
def test_json_that_is_not_a_json_feed_is_refused(name: str, reason: str) -> None:
    with pytest.raises(ParseError, match="^" + re.escape(reason)):
        parse(corpus(name))


# -- how items are read --------------------------------------------------------------------


def test_content_text_stays_text() -> None:
    text = "if a<b and b>c, <script>alert(1)</script> & co\n\nSecond paragraph"
    [item] = parse(feed({"id": "1", "title": "T", "url": "https://e.org/1", "content_text": text}))
    assert item.summary_html == (
        "<p>if a&lt;b and b&gt;c, &lt;script&gt;alert(1)&lt;/script&gt; &amp; co</p>"
        "<p>Second paragraph</p>"
    )
    assert item.summary_text.startswith("if a<b and b>c, <script>alert(1)</script> & co")


def test_content_html_is_sanitized_and_the_title_is_plain_text() -> None:
    hostile = '<p onclick="x()">Hi<script>steal()</script> <a href="javascript:x()">there</a></p>'
    [item] = parse(
        feed({"id": "1", "title": "a < b", "url": "https://e.org/1", "content_html": hostile})
    )
    assert item.title == "a < b"
    assert "script" not in item.summary_html and "onclick" not in item.summary_html
    assert "javascript" not in item.summary_html and "Hi" in item.summary_html


def test_relative_links_resolve_against_home_page_then_feed_url_then_fetch_url() -> None:
    item = {"id": "1", "title": "T", "url": "post/1", "content_html": '<img src="p.png">'}
    home = parse(feed(item, home_page_url="https://home.example/blog/"), "https://fetch.example/")
    own = parse(feed(item, feed_url="https://own.example/f.json"), "https://fetch.example/")
    fetched = parse(feed(item, home_page_url=["not", "a", "url"]), "https://fetch.example/x/")
    assert [items[0].url for items in (home, own, fetched)] == [
        "https://home.example/blog/post/1",
        "https://own.example/post/1",
        "https://fetch.example/x/post/1",
    ]
    assert home[0].image == "https://home.example/blog/post/p.png"


@pytest.mark.parametrize(
    ("fields", "picture"),
    [
        ({"image": "/i.jpg", "banner_image": "/b.jpg"}, "https://e.org/i.jpg"),
        ({"banner_image": "/b.jpg"}, "https://e.org/b.jpg"),
        (
            {"attachments": [{"url": "/a.mp3", "mime_type": "audio/mpeg"}, "bad", {"url": 5}]},
            "https://e.org/c.png",
        ),
        ({"attachments": [{"url": "/a.png", "mime_type": "image/png"}]}, "https://e.org/a.png"),
    ],
)
def test_the_picture_is_the_image_then_banner_then_image_attachment_then_content(
    fields: dict[str, object], picture: str
) -> None:
    item = {"id": "1", "title": "T", "url": "/1", "content_html": '<img src="/c.png">', **fields}
    [parsed] = parse(feed(item, home_page_url="https://e.org/"))
    assert parsed.image == picture


def test_untitled_items_take_their_first_words_and_numeric_ids_become_text() -> None:
    words = " ".join(f"mot{n}" for n in range(20))
    items = parse(
        feed(
            {"id": 42, "url": "https://e.org/42", "content_text": words},
            {"id": "x", "external_url": "https://elsewhere.example/a", "content_html": "Lien"},
            {"id": "nothing", "content_html": ""},  # no title, no link, no text: left out
        )
    )
    assert [(item.title, item.url, item.guid) for item in items] == [
        (" ".join(words.split()[:12]) + "…", "https://e.org/42", "42"),
        ("Lien", "https://elsewhere.example/a", "x"),
    ]


def test_dates_rfc3339_with_offsets_modified_as_fallback_and_nonsense_as_none() -> None:
    items = parse(
        feed(
            {"id": "1", "title": "A", "url": "/1", "date_published": "2023-05-10T10:00:00+02:00"},
            {"id": "2", "title": "B", "url": "/2", "date_modified": "2023-05-11T08:30:00Z"},
            {"id": "3", "title": "C", "url": "/3", "date_published": "demain"},
            {"id": "4", "title": "D", "url": "/4", "date_published": "0001-01-01T00:00:00+01:00"},
            {"id": "5", "title": "E", "url": "/5", "date_published": 1683700000},
        ),
        "https://e.org/",
    )
    assert [item.published for item in items] == [
        datetime(2023, 5, 10, 8, 0, tzinfo=UTC),
        datetime(2023, 5, 11, 8, 30, tzinfo=UTC),
        None,
        None,
        None,
    ]


# -- hostile documents ---------------------------------------------------------------------

VERSION = f'"version": "{VERSION_1_1}"'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f'{{{VERSION}, "items": {"[" * 100_000}{"]" * 100_000}}}'.encode(), "nested too deeply"),
        (f'{{{VERSION}, "items": [{{"id": {"9" * 5000}}}]}}'.encode(), "unreadable JSON Feed"),
        (f'{{{VERSION}, "items": "many"}}'.encode(), "JSON Feed without a list of items"),
        (f'{{{VERSION}, "items": {{"0": {{}}}}}}'.encode(), "JSON Feed without a list of items"),
        (f"{{{VERSION}}}".encode(), "JSON Feed without a list of items"),
        (f'{{{VERSION}, "items": [{{"title": "caf\xe9"}}]}}'.encode("latin-1"), "not UTF-8"),
        (f'{{{VERSION}, "items": []}}'.encode("utf-16"), "not UTF-8"),
        (b'{"version": 1.1, "items": []}', "not a feed"),
        (b'["https://jsonfeed.org/version/1.1"]', "not a feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "unreadable JSON Feed"),
        (b"{" * 10, "unreadable JSON Feed"),
    ],
)
def test_hostile_json_is_a_clear_parse_error(body: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=re.escape(reason)):
        parse(body, content_type="application/feed+json")


def test_wrong_types_anywhere_cost_the_value_not_the_feed() -> None:
    wrong = {
        "id": True,
        "title": ["T"],
        "url": {"href": "x"},
        "external_url": 5,
        "content_html": {"a": 1},
        "content_text": None,
        "date_published": [2023],
        "tags": "climat",
        "authors": "Moi",
        "author": ["Moi"],
        "image": 3,
        "banner_image": False,
        "attachments": {"url": "/a.png"},
    }
    good = {"id": "ok", "title": "Bon", "url": "/ok", "tags": ["climat", 7, None, "eau"]}
    body = feed(1, "a", None, [], wrong, good, home_page_url=12, feed_url=["x"])
    [item] = parse(body, "https://e.org/")
    assert (item.title, item.url, item.categories) == ("Bon", "https://e.org/ok", ("climat", "eau"))


def test_duplicate_keys_keep_the_last_value_and_nan_ids_are_text() -> None:
    body = (
        f'{{{VERSION}, "items": "none", '
        '"items": [{"id": NaN, "title": "T", "url": "https://e.org/a"}]}'
    ).encode()
    [item] = parse(body)
    assert (item.title, item.guid) == ("T", "NaN".lower())


def test_a_json_feed_is_parsed_under_the_cpu_allowance(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same limit as an XML feed: the pool's workers fork with this allowance."""
    items = [
        {"id": str(n), "title": f"Article {n}", "url": f"https://e.org/{n}"} for n in range(3000)
    ]
    monkeypatch.setattr(feedpool, "PARSE_CPU_BASE_S", 0.01)
    monkeypatch.setattr(feedpool, "PARSE_CPU_PER_MB_S", 0.0)
    result, entry = fetch(feed_server, feed(*items), "application/feed+json", "cpu")
    assert (result.status, entry) == ("error", None)
    assert result.error == "took more than 0.0 s of CPU to parse: refused"
