"""The RSS 2.0 fast path (digest/sources/fastxml.py) gives feedparser's Items, or declines.

Every corpus file, the benchmarks' generated feeds, a set of feeds written to reach each
rule of the subset (entities, CDATA, mis-decoded UTF-8, C1 characters, link and GUID
orders, categories, summaries read as content...) and hostile documents go through
parse_feed both ways: with the fast path, and with feedparser alone. Either the fast path
declines (fastxml.rss_feed gives None) or the Items are the same, every field.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from digest.config import SourceConfig
from digest.errors import ParseError
from digest.models import Item
from digest.sources.fastxml import popped, rss_feed
from digest.sources.feedparse import parse_feed, self_describing, strip_doctype

from .test_corpus import BASE, corpus_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_build import feed_xml  # noqa: E402
from bench_parse_cpu import dense, rss  # noqa: E402

SOURCE = SourceConfig(name="Partenaire", url="https://partenaire.example.org/flux.xml")
RSS_TYPE = {"content-type": "application/rss+xml; charset=utf-8"}
Outcome = tuple[Item, ...] | str

# The corpus files the fast path reads (the others are declined: RSS 0.9x/1.0, Atom, JSON,
# not well-formed, or with an element outside the subset). Counted, so that a change that
# declines more, or reads more, is seen.
CORPUS_ACCEPTED = 26


def outcome(
    body: bytes, fast: bool, base: str | None = BASE, headers: dict[str, str] | None = None
) -> Outcome:
    """The Items, or the ParseError's message (the same message both ways too)."""
    try:
        return parse_feed(body, SOURCE, base, headers or {}, fast_path=fast)
    except ParseError as exc:
        return f"ParseError: {exc.message}"


def accepted(body: bytes, headers: dict[str, str] | None = None) -> bool:
    """Whether the fast path reads `body` (prepared as parse_feed prepares it)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    try:
        data, utf8_headers = self_describing(body, lowered)
        return (
            utf8_headers is not lowered and rss_feed(strip_doctype(data), utf8_headers) is not None
        )
    except ParseError:
        return False


def assert_same(
    body: bytes, base: str | None = BASE, headers: dict[str, str] | None = None
) -> bool:
    """Both paths give the same outcome; True when the fast path read the feed."""
    fast, slow = outcome(body, True, base, headers), outcome(body, False, base, headers)
    assert fast == slow
    return accepted(body, headers)


def test_every_corpus_file_gives_the_same_items_or_is_declined() -> None:
    read = [path.name for path in corpus_files() if assert_same(path.read_bytes())]
    assert len(read) == CORPUS_ACCEPTED, read


def test_the_corpus_read_without_a_url_takes_the_same_self_link() -> None:
    for path in corpus_files():
        assert_same(path.read_bytes(), base=None)


@pytest.mark.parametrize(
    "body",
    [feed_xml(0, 50), feed_xml(199, 50), rss(50), rss(3, paragraphs=40), dense(200)],
    ids=["build-0", "build-199", "parse-cpu", "parse-cpu-long", "dense"],
)
def test_benchmark_feeds_take_the_fast_path_with_the_same_items(body: bytes) -> None:
    assert assert_same(body, headers=RSS_TYPE)
    assert assert_same(body, base=None)


def channel(items: str, head: str = "", root: str = "") -> bytes:
    namespaces = (
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0" '
        'xmlns:wp="com-wordpress:feed-additions:1"'
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" {namespaces} {root}>'
        f"<channel><title>P</title><link>https://p.example.org/</link>{head}{items}"
        "</channel></rss>"
    ).encode()


def item(inner: str) -> str:
    return f"<item>{inner}</item>"


# Feeds the fast path reads: each reaches one of feedparser's rules.
READ = {
    "entities in a title": item("<title>A &amp;amp; b &lt;b&gt;c&lt;/b&gt;</title>"),
    "literal markup in a text title": item("<title>Utiliser &lt;script&gt; sans risque</title>"),
    "CDATA title and description": item(
        "<title><![CDATA[Été <i>chaud</i>]]></title>"
        "<description><![CDATA[<p>Un <b>été</b></p>]]></description>"
    ),
    "UTF-8 read as latin-1": item("<title>CafÃ© climat</title><description>Ã©tÃ©</description>"),
    "C1 characters": item("<title>Prix &#128; 5 &#150; 6</title><description>&#133;</description>"),
    "a comment inside a title": item("<title>Un<!-- x --> titre</title>"),
    "link with an escaped query": item(
        "<title>L</title><link> https://p.example.org/?a=1&amp;amp;b=2&amp;c </link>"
    ),
    "relative link": item("<title>L</title><link>/articles/1</link>"),
    "empty link, permalink guid": item(
        "<title>L</title><link></link><guid>https://p.example.org/g</guid>"
    ),
    "permalink guid first": item(
        "<guid>https://p.example.org/g</guid><title>L</title><link>https://p.example.org/l</link>"
    ),
    "guid that is not a permalink": item(
        "<title>G</title><guid isPermaLink='false'>https://p.example.org/g</guid>"
    ),
    "guid that is only a permalink": item("<title>G</title><guid>/relative/g</guid>"),
    "categories with domains and repeats": item(
        "<title>C</title><category domain='d'></category><category>eau</category>"
        "<category>eau</category><category domain='x'>air</category><dc:subject>sol</dc:subject>"
    ),
    "authors, last wins": item(
        "<title>A</title><author>a@example.org (Anne)</author><dc:creator>Bruno</dc:creator>"
    ),
    "content before description": item(
        "<title>C</title><content:encoded><![CDATA[<p>Long</p>]]></content:encoded>"
        "<description>Court</description>"
    ),
    "empty content, description after": item(
        "<title>C</title><content:encoded> </content:encoded><description>Court</description>"
    ),
    "description then itunes:summary (content)": item(
        "<title>S</title><description>Court</description>"
        "<itunes:summary>Plus &lt;b&gt;long&lt;/b&gt;</itunes:summary>"
    ),
    "itunes:summary then description (content)": item(
        "<title>S</title><itunes:summary>Texte a &lt; b</itunes:summary>"
        "<description>&lt;p&gt;HTML&lt;/p&gt;</description>"
    ),
    "untitled item": item("<description>Une phrase. Et une autre.</description>"),
    "dates of every kind": item(
        "<title>D</title><pubDate>Tue, 09 May 2023 07:30:00 +0200</pubDate>"
        "<dc:date>2023-05-10T08:00:00Z</dc:date>"
    )
    + item("<title>E</title><pubDate>not a date</pubDate><dc:date>2023-05-11</dc:date>")
    + item("<title>F</title><pubDate>  2023-05-09  </pubDate>"),
    "pictures": item(
        "<title>P</title><media:content url='https://p.example.org/tiny.jpg' width='10'/>"
        "<media:content url='/m.JPG' type='IMAGE/JPEG'/>"
        "<media:thumbnail url='https://p.example.org/t.png' height='80'/>"
        "<enclosure url='/e.png' type='image/png' length='3'/>"
    )
    + item("<title>Q</title><enclosure url='https://p.example.org/a.mp3' type='audio/mpeg'/>"),
    "feedburner origLink": item(
        "<title>F</title><link>https://feedproxy.google.com/~r/p/~3/x/</link>"
        "<feedburner:origLink>https://p.example.org/vrai</feedburner:origLink>"
    ),
    "atom links in an item": item(
        "<title>A</title><atom:link rel='alternate' type='text/html' href='/alt'/>"
        "<atom:link rel='enclosure' href='https://p.example.org/e.jpg' type='image/jpeg'/>"
    ),
    "unknown elements": item(
        "<title>U</title><wp:post-id>42</wp:post-id><comments>/c</comments><slash>x</slash>"
        "<itunes:duration>1:00</itunes:duration><itunes:image href='/i.jpg'/><image>/j.jpg</image>"
    ),
    "duplicate guids": item("<title>A</title><guid>g</guid>")
    + item("<title>B</title><guid>g</guid>"),
}


@pytest.mark.parametrize("items", READ.values(), ids=READ.keys())
def test_feeds_in_the_subset_give_feedparsers_items(items: str) -> None:
    assert assert_same(channel(items))
    assert assert_same(channel(items), base=None)


def test_feed_language_self_link_and_xml_lang_on_the_root() -> None:
    head = "<language>de</language><atom:link rel='self' href='https://p.example.org/rss'/>"
    body = channel(item("<title>Verkaufsstart</title>"), head, root='xml:lang="de_DE"')
    assert assert_same(body, base=None)
    podcast = "<itunes:summary>S</itunes:summary><itunes:owner><itunes:name>N</itunes:name>"
    podcast += "</itunes:owner><image><url>/l.png</url><link>/x</link></image>"
    assert assert_same(channel(item("<title>Épisode</title>"), podcast), base=None)


# Feeds the fast path declines (and feedparser reads as it always has).
DECLINED = {
    "xml:base": channel(item("<title>B</title>")).replace(
        b"<channel>", b'<channel xml:base="/x/">'
    ),
    "xml:lang on an item element": channel(item('<title xml:lang="fr">B</title>')),
    "markup inside a description": channel(
        item("<title>M</title><description><p>x</p></description>")
    ),
    "two titles": channel(item("<title>A</title><title>B</title>")),
    "media:group": channel(
        item("<title>G</title><media:group><media:content url='/a'/></media:group>")
    ),
    "source": channel(item("<title>S</title><source url='https://a.example.org/'>A</source>")),
    "an unknown element named like a read key": channel(
        item("<title>K</title><published_parsed>x</published_parsed>")
    ),
    "a usual prefix bound elsewhere": channel(item("<title>P</title>")).replace(
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"', b'xmlns:dc="http://search.yahoo.com/mrss/"'
    ),
    "RSS 0.91": channel(item("<title>V</title>")).replace(b'version="2.0"', b'version="0.91"'),
    "Content-Language": channel(item("<title>L</title>")),
    "not well-formed": channel(item("<title>A &nbsp; B</title>")),
}


@pytest.mark.parametrize("body", DECLINED.values(), ids=DECLINED.keys())
def test_feeds_outside_the_subset_are_declined(body: bytes) -> None:
    headers = {"Content-Language": "fr"} if b"<title>L</title>" in body else RSS_TYPE
    assert not assert_same(body, headers=headers)


HOSTILE = {
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<rss version="2.0"><channel><item><title>&b;</title></item></channel></rss>'
    ),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b'<rss version="2.0"><channel><item><title>T &x;</title></item></channel></rss>'
    ),
    "entity declared after the root": channel(item("<title>T</title>")) + b'<!ENTITY z "zz">',
    "DOCTYPE without entities": b"<!DOCTYPE rss>"
    + channel(item("<title>T</title>")).split(b"\n", 1)[1],
    "huge attribute": channel(item(f"<title>T</title><enclosure url='{'a' * 2_000_000}.png'/>")),
    "deep nesting": channel(item("<title>T</title>" + "<x>" * 50_000 + "</x>" * 50_000)),
    "many elements": channel(item("<title>T</title>" + "<wp:post-id>1</wp:post-id>" * 20_000)),
    "undefined entity": channel(item("<title>T &eacute;</title>")),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_feeds_give_the_same_items_or_error_both_ways(body: bytes) -> None:
    assert_same(body, headers=RSS_TYPE)


def test_declining_deep_nesting_builds_no_recursion() -> None:
    body = channel(item("<title>T</title>" + "<x>" * 300_000 + "</x>" * 300_000))
    assert rss_feed(strip_doctype(body), RSS_TYPE) is None


def test_text_is_finished_as_feedparser_finishes_it() -> None:
    assert popped("  Ã©tÃ© ") == "été"
    assert popped("\x80 et \x96") == "€ et –"
    assert popped(" /a b ", relative=True) == "/a b"
    assert popped("\xa0x\xa0") == "x"
