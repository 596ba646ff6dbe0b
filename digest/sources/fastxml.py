"""A fast path for well-formed RSS 2.0: the entries feedparser would give, from an XML tree.

`rss_feed(data, headers)` reads the UTF-8 bytes parse_feed hands feedparser (decoded by
feedparser's own rules, DOCTYPE removed) with the standard library's C-accelerated
ElementTree and gives the same feedparser-shaped entries, the feed's link, links and
language; or None, and parse_feed falls back to feedparser. It costs about a quarter of
feedparser's time (BENCHMARKS.md, session 6), and exactness beats breadth: anything outside
the subset below is declined, never approximated. tests/test_fastxml.py proves it: every
corpus file and the benchmark's feeds give the same Items both ways, or are declined.

The subset, read as feedparser's strict (expat) parser reads it:
- well-formed XML (expat, as feedparser's strict parser), no DOCTYPE (parse_feed removed
  it; expat then expands only the five predefined entities and character references),
  no Content-Language header; `<rss version="2.x">` whose only child is a `<channel>`
  without attributes; no `lang`/`base` attribute (xml:lang, xml:base) anywhere but an
  xml:lang on the root (feedparser gives it to the feed and to every text's details).
- channel: its `link` (text, or Atom link attributes), `language` / `dc:language`,
  `image` (with leaf children url, title, link, width, height, description), `item`s,
  any other leaf element but a few that feedparser would read as entries or content, and
  the nested `itunes:owner` / `itunes:category` of podcasts.
- item (no attributes), every child a leaf with feedparser's handling copied exactly:
  title / dc:title (feedparser's HTML guess), link (text, or attributes: Atom links),
  guid / id (isPermaLink), description / dc:description and content:encoded (once each
  at most; a second description or itunes:summary before any content:encoded is content,
  as feedparser reads it), pubDate and the other dates (feedparser's date
  parser), category / dc:subject, author / dc:creator / itunes:author, enclosure,
  media:content, media:thumbnail (no text), feedburner:origLink; a few handlers that
  write nothing an Item reads (itunes:image, itunes:explicit, image...); any element
  feedparser has no handler for and stores under a key an Item never reads.
- namespaces: feedparser names an element by its namespace's usual prefix (content, dc,
  media...) or, for other namespaces, by the document's prefix: a prefix bound to two
  namespaces, a namespace bound to two prefixes, or a usual prefix bound elsewhere is
  declined.
Declined, among others: RSS 0.9x and 1.0, Atom, xml:base, child elements in a title or
description (inline XHTML), media:group, media:title, source, georss, a third summary.

Every text value goes through what feedparser's `pop` does to it (strip, URI join,
the UTF-8-read-as-latin-1 repair, windows-1252 code points), and dates through its own
`_parse_date`, so that equality holds by construction and not only on the corpus.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, cast

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from feedparser.util import FeedParserDict

# Namespace URI (lowercased) -> feedparser's prefix for it ('' for RSS and Atom).
_KNOWN = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_USUAL_PREFIXES = {prefix.lower() for prefix in _KNOWN.values() if prefix}
_LINK_QUERY = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

TITLES = frozenset({"title", "dc_title"})
DESCRIPTIONS = frozenset({"description", "dc_description"})
CONTENTS = frozenset({"content_encoded"})
GUIDS = frozenset({"guid", "id"})
AUTHORS = frozenset({"author", "dc_author", "dc_creator", "itunes_author", "managingeditor"})
CATEGORIES = frozenset({"category", "dc_subject", "keywords"})
# Date elements -> the entry key feedparser parses them into (the last one wins).
DATES = {
    **dict.fromkeys(("pubdate", "published", "issued", "dcterms_issued"), "published"),
    **dict.fromkeys(("updated", "modified", "lastbuilddate", "dc_date"), "updated"),
    **dict.fromkeys(("dcterms_modified",), "updated"),
    **dict.fromkeys(("created", "dcterms_created"), "created"),
}
# Handlers that store only keys an Item never reads, and change no parser state.
# (An item's own <image> only resets the title depth: one title per item is read here.)
HARMLESS_HANDLERS = frozenset(
    {"itunes_explicit", "itunes_block", "itunes_image", "itunes_subtitle", "language", "image"}
)
# Keys entry_to_item reads, or that a handler appends to: an element feedparser has no
# handler for, stored under one of these, would change the entry.
ENTRY_KEYS = frozenset(
    {
        "id", "link", "links", "title", "title_detail", "summary", "summary_detail",
        "content", "author", "authors", "author_detail", "tags", "category",
        "published_parsed", "updated_parsed", "created_parsed", "media_content",
        "media_thumbnail", "feedburner_origlink", "enclosures", "contributors",
        "image", "source", "publisher", "publisher_detail", "href", "where",
    }
)  # fmt: skip
FEED_KEYS = frozenset({"link", "links", "language"})
# Channel elements that feedparser reads as entries, sources or content: declined.
CHANNEL_DECLINED = frozenset(
    {"entry", "source", "textinput", "content", "content_encoded", "fullitem", "body"}
    | {"xhtml_body"}
)
# A second summary in one context is read by feedparser as content: declined.
SUMMARIES = frozenset({"summary", "itunes_summary"})
IMAGE_CHILDREN = frozenset({"url", "title", "link", "width", "height", "description"})


class Decline(Exception):
    """The document is outside the subset: feedparser reads it."""


@dataclass(frozen=True)
class FastFeed:
    """What parse_feed takes from feedparser's result, for a document in the subset."""

    entries: list[dict[str, Any]]
    link: str | None
    links: list[dict[str, str]]
    language: str | None


def rss_feed(data: bytes, headers: Mapping[str, str]) -> FastFeed | None:
    """The feed in `data` (UTF-8, no DOCTYPE), or None when outside the subset."""
    if "content-language" in headers:
        return None  # feedparser gives it to every entry's details as their language
    try:
        root, names = _tree(data)
        return _rss(root, names)
    except (Decline, ET.ParseError, ValueError):
        return None


def _tree(data: bytes) -> tuple[ET.Element, Names]:
    """The document's root and its namespace bindings, read by expat in C."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start-ns", "start"))
    parser.feed(data)
    parser.close()
    root: ET.Element | None = None
    names = Names()
    for event, value in cast(Iterator[tuple[str, Any]], parser.read_events()):
        if event == "start-ns":
            prefix, uri = cast(tuple[str, str], value)
            names.bind(prefix, uri)
        elif root is None and isinstance(value, ET.Element):
            root = value
    if root is None:
        raise Decline
    return root, names


@dataclass
class Names:
    """feedparser's names for elements: `prefix_local`, lowercased (its `_start_` keys)."""

    uris: dict[str, str] = field(default_factory=dict)  # lowercased prefix -> URI
    prefixes: dict[str, str] = field(default_factory=dict)  # unknown URI -> its prefix

    def bind(self, prefix: str, uri: str) -> None:
        lowered = prefix.lower()
        if self.uris.setdefault(lowered, uri) != uri:
            raise Decline  # one prefix, two namespaces: feedparser's map depends on order
        known = _namespace_prefix(uri)
        if lowered in _USUAL_PREFIXES and known != lowered:
            raise Decline  # feedparser would rename another namespace's elements
        if known is None and self.prefixes.setdefault(uri, lowered) != lowered:
            raise Decline  # feedparser would pick the first prefix it met

    def key(self, tag: str) -> str:
        if not tag.startswith("{"):
            return tag.lower()
        uri, local = tag[1:].split("}", 1)
        prefix = _namespace_prefix(uri)
        if prefix is None:
            prefix = self.prefixes.get(uri, "")  # an unknown default namespace: no prefix
        return f"{prefix}_{local}".lower() if prefix else local.lower()


def _namespace_prefix(uri: str) -> str | None:
    lowered = uri.lower()
    if "backend.userland.com/rss" in lowered:
        lowered = "http://backend.userland.com/rss"
    return _KNOWN.get(lowered)


def _has_handler(key: str) -> bool:
    return hasattr(StrictFeedParser, "_start_" + key) or hasattr(StrictFeedParser, "_end_" + key)


def _attributes(element: ET.Element) -> dict[str, str]:
    """The attributes as feedparser gives them to its handlers: names lowercased, `rel` and
    `type` values too. Namespaced ones (xml:lang, xml:base...) and `lang` or `base` are
    declined: feedparser reads them as the language or the base of everything inside."""
    attributes: dict[str, str] = {}
    for name, value in element.attrib.items():
        lowered = name.lower()
        if name.startswith("{") or lowered in ("lang", "base") or lowered in attributes:
            raise Decline
        attributes[lowered] = value.lower() if lowered in ("rel", "type") else value
    return attributes


def _text(element: ET.Element) -> str:
    """A leaf's text (comments and processing instructions left out, as feedparser does)."""
    if len(element):
        raise Decline  # markup inside: feedparser rebuilds it as XHTML
    return element.text or ""


def popped(text: str, relative: bool = False) -> str:
    """What feedparser's `pop` makes of an element's text (strict parser, UTF-8 input)."""
    output = text.strip()
    if relative and output:
        output = _urljoin("", output)
    with suppress(UnicodeEncodeError, UnicodeDecodeError):  # feedparser repairs UTF-8
        output = output.encode("iso-8859-1").decode("utf-8")  # that was read as latin-1
    # translate() looks every character up in a dict: only text that has a C1 control
    # character (all _cp1252 maps) is given to it. Same result, a tenth of the time.
    return output.translate(_cp1252) if _C1.search(output) else output


def _rss(root: ET.Element, names: Names) -> FastFeed:
    if root.tag != "rss" or not root.get("version", "").startswith("2."):
        raise Decline
    if len(root) != 1 or root[0].tag != "channel" or root[0].attrib:
        raise Decline
    language = _root_language(root)
    channel = Channel(names, language)
    if language:
        channel.feed["language"] = language
    for child in root[0]:
        channel.read(child)
    if not channel.entries:
        raise Decline  # feedparser says why there is nothing to read
    feed = channel.feed
    return FastFeed(channel.entries, feed.get("link"), feed.get("links", []), feed.get("language"))


def _root_language(root: ET.Element) -> str | None:
    """The root's xml:lang, as feedparser gives it to the feed and every text inside."""
    attributes = dict(root.attrib)
    language = attributes.pop(XML_LANG, None)
    _attributes(ET.Element(root.tag, attributes))
    return language.replace("_", "-") if language else None


@dataclass
class Channel:
    """The channel's elements in document order, as feedparser's handlers see them."""

    names: Names
    language: str | None
    feed: dict[str, Any] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def read(self, element: ET.Element) -> None:
        key = self.names.key(element.tag)
        if key == "item":
            self.entries.append(Entry(self.names, self.language).read(element))
        elif key == "link":
            _link(self.feed, element, in_entry=False)
        elif key in ("language", "dc_language"):
            _attributes(element)
            self.feed["language"] = popped(_text(element))
        elif key == "image":
            self._image(element)
        elif key in SUMMARIES:
            if "summary" in self.feed:
                raise Decline
            self.feed["summary"] = popped(_text(element))
        elif key in ("itunes_owner", "itunes_category"):
            self._container(element, depth=2)
        elif key in CHANNEL_DECLINED or (key in FEED_KEYS and not _has_handler(key)):
            raise Decline
        else:
            self._container(element, depth=0)

    def _image(self, element: ET.Element) -> None:
        """The channel's logo: its children go to feed.image, not to the feed's link."""
        _attributes(element)
        for child in element:
            if self.names.key(child.tag) not in IMAGE_CHILDREN:
                raise Decline  # feedparser would leave the image and read on as the feed
            _attributes(child)
            _text(child)

    def _container(self, element: ET.Element, depth: int) -> None:
        """An element whose whole content goes to feed keys an Item never reads."""
        _attributes(element)
        for child in element:
            key = self.names.key(child.tag)
            if depth == 0 or key in CHANNEL_DECLINED | FEED_KEYS | {"item", "image"}:
                raise Decline
            self._container(child, depth - 1)


def _link(context: dict[str, Any], element: ET.Element, in_entry: bool) -> None:
    """feedparser's `_start_link` and, without an href, its `pop` of the link text."""
    attributes = _enforce_href(_attributes(element))
    attributes.setdefault("rel", "alternate")
    attributes.setdefault(
        "type", "application/atom+xml" if attributes["rel"] == "self" else "text/html"
    )
    if "href" in attributes:
        attributes["href"] = _urljoin("", attributes["href"])
    links = context.setdefault("links", [])
    links.append(attributes)
    text = _text(element)
    if "href" in attributes:
        if attributes["rel"] == "alternate" and _is_html(attributes["type"]):
            context["link"] = attributes["href"]
        return
    output = popped(text, relative=True)
    if in_entry:
        output = _LINK_QUERY.sub(r"&\g<1>", output.replace("&amp;", "&"))
    else:
        output = _LINK_QUERY.sub(r"&\g<1>", output)
    context["link"] = output
    if output or not in_entry:
        links[-1]["href"] = output


def _is_html(kind: str | None) -> bool:
    return _FeedParserMixin.map_content_type(kind or "") in _FeedParserMixin.html_types


def _enforce_href(attributes: dict[str, str]) -> dict[str, str]:
    href = attributes.get("url", attributes.get("uri", attributes.get("href")))
    if href:
        attributes.pop("url", None)
        attributes.pop("uri", None)
        attributes["href"] = href
    return attributes


@dataclass
class Entry:
    """One item's elements in document order, with the state feedparser keeps for it."""

    names: Names
    language: str | None
    # feedparser's own dict: its `enclosures` is computed from the links, as there.
    entry: dict[str, Any] = field(default_factory=FeedParserDict)
    has_content: bool = False
    summaries: int = 0
    seen: set[str] = field(default_factory=set)

    def read(self, item: ET.Element) -> dict[str, Any]:
        if item.attrib:
            raise Decline  # rdf:about, href, lastmod: feedparser reads them
        for child in item:
            self._child(self.names.key(child.tag), child)
        return self.entry

    def _child(self, key: str, element: ET.Element) -> None:
        read = next((read for keys, read in self._readers() if key in keys), None)
        if read is not None:
            read(element)
        elif key == "link":
            _link(self.entry, element, in_entry=True)
        elif key in DATES:
            self._date(DATES[key], element)
        else:
            self._other(key, element)

    def _readers(self) -> Iterator[tuple[frozenset[str], Callable[[ET.Element], None]]]:
        yield TITLES, self._title
        yield DESCRIPTIONS, self._description
        yield CONTENTS, self._content
        yield GUIDS, self._guid
        yield AUTHORS, self._author
        yield CATEGORIES, self._category
        yield frozenset({"enclosure"}), self._enclosure
        yield frozenset({"media_content"}), self._media_content
        yield frozenset({"media_thumbnail"}), self._media_thumbnail
        yield SUMMARIES, self._summary
        yield frozenset({"feedburner_origlink"}), self._origin

    def _once(self, kind: str, element: ET.Element) -> str:
        """The text of an element feedparser handles oddly when repeated: declined then."""
        if kind in self.seen or _attributes(element):
            raise Decline
        self.seen.add(kind)
        return _text(element)

    def _title(self, element: ET.Element) -> None:
        raw = self._once("title", element)
        output = popped(raw)
        # feedparser guesses before its latin-1 repair: the same order here.
        self.entry["title"] = output
        self.entry["title_detail"] = self._detail(_guessed(raw), output)

    def _description(self, element: ET.Element) -> None:
        """description: HTML by default (feedparser's `_start_description`)."""
        raw = self._summary_text(element)
        if not self._as_content(raw):
            output = popped(raw)
            self.entry["summary"] = output
            self.entry["summary_detail"] = self._detail("text/html", output)

    def _summary(self, element: ET.Element) -> None:
        """itunes:summary: text, unless it looks like HTML (feedparser's `_start_summary`)."""
        raw = self._summary_text(element)
        if not self._as_content(raw):
            output = popped(raw)
            self.entry["summary"] = output
            self.entry["summary_detail"] = self._detail(_guessed(raw), output)

    def _summary_text(self, element: ET.Element) -> str:
        self.summaries += 1
        if self.summaries > 2 or _attributes(element):
            raise Decline
        return _text(element)

    def _as_content(self, raw: str) -> bool:
        """feedparser reads a second summary or description, before any content, as the
        entry's content (text unless it looks like HTML): so here."""
        if "summary" not in self.entry or self.has_content:
            return False
        self.has_content = True
        self.entry.setdefault("content", []).append(self._detail(_guessed(raw), popped(raw)))
        return True

    def _content(self, element: ET.Element) -> None:
        self.has_content = True
        output = popped(self._once("content", element))
        self.entry.setdefault("content", []).append(self._detail("text/html", output))
        self.entry.setdefault("summary", output)

    def _origin(self, element: ET.Element) -> None:
        """feedburner:origLink, which feedparser stores as any element it has no handler for."""
        self.entry["feedburner_origlink"] = popped(self._once("origlink", element))

    def _detail(self, kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "language": self.language, "base": "", "value": value}

    def _guid(self, element: ET.Element) -> None:
        if "guid" in self.seen:
            raise Decline
        self.seen.add("guid")
        is_link = _attributes(element).get("ispermalink", "true") == "true"
        output = popped(_text(element), relative=is_link)
        self.entry["id"] = output
        if is_link:
            self.entry.setdefault("link", output)

    def _author(self, element: ET.Element) -> None:
        _attributes(element)
        self.entry["author"] = popped(_text(element))

    def _category(self, element: ET.Element) -> None:
        """feedparser's `_start_category` and `_end_category`, tag for tag."""
        attributes = _attributes(element)
        tags: list[dict[str, str | None]] = self.entry.setdefault("tags", [])
        scheme = attributes.get("scheme", attributes.get("domain"))
        _add_tag(tags, attributes.get("term"), scheme, attributes.get("label"))
        value = popped(_text(element))
        if not value:
            return
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            _add_tag(tags, value, None, None)

    def _enclosure(self, element: ET.Element) -> None:
        attributes = _enforce_href(_attributes(element))
        attributes["rel"] = "enclosure"
        _text(element)
        self.entry.setdefault("links", []).append(attributes)

    def _media_content(self, element: ET.Element) -> None:
        attributes = _attributes(element)
        _text(element)  # a media:content with children (media:title...): declined
        self.entry.setdefault("media_content", []).append(attributes)

    def _media_thumbnail(self, element: ET.Element) -> None:
        attributes = _attributes(element)
        if _text(element).strip():
            raise Decline  # feedparser takes a text URL when there is no url attribute
        self.entry.setdefault("media_thumbnail", []).append(attributes)

    def _date(self, name: str, element: ET.Element) -> None:
        _attributes(element)
        value = popped(_text(element))
        self.entry[name] = value
        self.entry[f"{name}_parsed"] = _parse_date(value)

    def _other(self, key: str, element: ET.Element) -> None:
        """An element an Item does not read: only its key must not collide."""
        attributes = _attributes(element)
        if key in HARMLESS_HANDLERS:
            _text(element)
        elif _has_handler(key) or key in ENTRY_KEYS:
            raise Decline
        elif attributes:
            _text(element)
            self.entry[key] = attributes
        else:
            self.entry[key] = popped(_text(element))


def _guessed(raw: str) -> str:
    """feedparser's type for an RSS text/plain element: text/html when it looks like HTML
    (guessed before its latin-1 repair, as here)."""
    return "text/html" if _FeedParserMixin.looks_like_html(raw.strip()) else "text/plain"


def _add_tag(
    tags: list[dict[str, str | None]], term: str | None, scheme: str | None, label: str | None
) -> None:
    if not term and not scheme and not label:
        return
    tag = {"term": term, "scheme": scheme, "label": label}
    if tag not in tags:
        tags.append(tag)
