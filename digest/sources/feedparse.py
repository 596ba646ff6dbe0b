"""Feed bytes to Items: the one module that sees feedparser's loose dicts.

`parse_feed(body, source, base_url, headers)` turns an RSS 0.9x/1.0/2.0 or Atom document
(or a JSON Feed, read into the same entries by jsonfeed.py) into cleaned, frozen `Item`s,
or raises ParseError. Hostile input is defused before
feedparser sees it (the DOCTYPE, and with it every entity declaration, is removed) and every
string goes through digest.text on the way out. Pure CPU work: safe to run in a process pool.
"""

from __future__ import annotations

import html
import io
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from xml.sax.expatreader import ExpatParser

import feedparser
import feedparser.api
from feedparser.encodings import convert_to_utf8

from ..chars import remove_control_chars
from ..config import SourceConfig
from ..errors import ParseError
from ..i18n import t
from ..identity import distinguish_fragments, item_key
from ..models import Item
from ..text import (
    clean_title,
    plain_title,
    sanitize_html,
    sanitized_image_alt,
    sanitized_to_text,
    summarize,
    text_to_html,
)
from ..urls import http_url, is_feedburner_redirect, is_not_a_picture, unwrap_redirect
from .fastxml import rss_feed
from .jsonfeed import is_json, json_entries
from .language import declared_language, text_language, with_feed_language

# What parsing produces, as a number: the fetch cache reuses items parsed under the same
# version only (sources/itemcache.py). Bump it with any change to the Items parse_feed
# gives for the same bytes (fields, cleaning, links, dates...).
PARSER_VERSION = 2

# An <img> as nh3 writes it (double-quoted values) with its attributes, and the start of a
# block of share buttons (only these classes survive the sanitizer on a <div>).
_IMG = re.compile(r"<img\b([^>]*)>", re.I)
_ATTRIBUTE = re.compile(r'\b(src|width|height)="([^"]*)"')
_SHARE_BLOCK = re.compile(r'<div class="')
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)", re.I)
# An image smaller than this (in pixels, either way) is an icon, a badge or a pixel: a
# reader app would not show it as the item's picture.
MIN_PICTURE_PIXELS = 50


def parse_feed(
    body: bytes,
    source: SourceConfig,
    base_url: str | None,
    headers: Mapping[str, str] | None = None,
    fast_path: bool = True,
) -> tuple[Item, ...]:
    """The items of the feed in `body`; ParseError when it is not a usable feed.

    `fast_path`: well-formed RSS 2.0 is read by fastxml.rss_feed into the entries
    feedparser would give (the same Items, proven in tests/test_fastxml.py); False
    sends every feed to feedparser (those tests compare the two)."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if is_json(body, lowered.get("content-type", "")):
        entries, json_base, language = json_entries(body, lowered.get("content-type", ""), base_url)
        return _items(entries, source, json_base, language=language)
    utf8, utf8_headers = self_describing(body, lowered)
    utf8 = strip_doctype(utf8)
    # self_describing gives back the very headers when feedparser could not decode the
    # body: its lenient parser reads that, never the fast path (fastxml.py).
    fast = rss_feed(utf8, utf8_headers) if fast_path and utf8_headers is not lowered else None
    if fast is not None:
        feed = {"link": fast.link, "links": fast.links}
        return _feed_items(fast.entries, feed, source, base_url, False, fast.language)
    result = _run_feedparser(utf8, utf8_headers)
    _check(result, lowered.get("content-type", ""))
    atom = str(result.get("version") or "").startswith("atom")
    language = result.feed.get("language")
    return _feed_items(result.entries, result.feed, source, base_url, atom, language)


def _feed_items(
    entries: list[Any],
    feed: Mapping[str, Any],
    source: SourceConfig,
    base_url: str | None,
    atom: bool,
    language: str | None,
) -> tuple[Item, ...]:
    """The Items of a feed's entries, relative links resolved against the feed's link."""
    # A feed read from disk has no URL: its own self link stands in for one.
    base_url = base_url or _self_link(feed)
    feed_link = http_url(feed.get("link"), base_url) or base_url
    return _items(entries, source, feed_link, atom, language)


def _self_link(feed: Mapping[str, Any]) -> str | None:
    """The feed's absolute `<atom:link rel="self">` (or Atom `<link rel="self">`), if any."""
    for link in feed.get("links") or ():
        if link.get("rel") == "self" and (url := http_url(link.get("href"))):
            return url
    return None


def self_describing(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """UTF-8 bytes that say so, decoded by feedparser's own rules (RFC 3023: the charset of
    the Content-Type, the XML declaration, the BOM), and headers that now say utf-8.

    Why: the entity checks must read the document as the parser will, whatever its encoding
    (UTF-16, EBCDIC...); and the fetch cache keeps only the body, so a latin-1 feed whose
    charset is given only by Content-Type must not come back garbled on the next 304.
    """
    if body.lstrip()[:1] in (b"{", b"["):  # JSON: no declaration, no entities
        return body, headers
    outcome: dict[str, Any] = {}
    data = convert_to_utf8(headers, body, outcome)
    if not outcome.get("encoding"):
        return body, headers  # undecodable: feedparser's lenient parser decides
    mime = headers.get("content-type", "").split(";")[0].strip() or "application/xml"
    return data, {**headers, "content-type": f"{mime}; charset=utf-8"}


def strip_doctype(body: bytes) -> bytes:
    """`body` without its DOCTYPE (and so without any ENTITY declaration).

    Why: feedparser stops billion-laughs and external entities, but one large entity
    referenced many times still cost it seconds and hundreds of MiB. A feed needs no DTD.
    """
    position = _skip_prolog_noise(body, 0)
    if body[position : position + 9].upper() == b"<!DOCTYPE":
        body = body[:position] + body[_doctype_end(body, position + 9) :]
    # A declaration anywhere else (after stray text, or a second DOCTYPE) would still
    # reach feedparser's lenient parser, which expands such entities itself.
    if _ENTITY_DECL.search(body):
        raise ParseError(t("source.entities"))
    return body


def _skip_prolog_noise(body: bytes, position: int) -> int:
    """The offset after the BOM, XML declaration, comments, PIs and spaces."""
    if body.startswith(b"\xef\xbb\xbf"):
        position = 3
    while True:
        while position < len(body) and body[position : position + 1].isspace():
            position += 1
        for opener, closer in ((b"<?", b"?>"), (b"<!--", b"-->")):
            if body.startswith(opener, position):
                close = body.find(closer, position + len(opener))
                position = len(body) if close < 0 else close + len(closer)
                break
        else:
            return position


def _doctype_end(body: bytes, position: int) -> int:
    """The offset just after the DOCTYPE's closing '>', honouring quotes and its [subset]."""
    depth, quote = 0, 0
    for index in range(position, len(body)):
        char = body[index]
        if quote:
            quote = 0 if char == quote else quote
        elif char in b"\"'":
            quote = char
        elif char == ord("["):
            depth += 1
        elif char == ord("]"):
            depth -= 1
        elif char == ord(">") and depth <= 0:
            return index + 1
    raise ParseError(t("source.doctype_open"))


def _run_feedparser(body: bytes, headers: dict[str, str]) -> Any:
    # A file-like object, never bytes or str: feedparser opens a local file whose name
    # matches a string (or bytes). Its sanitizer and URI resolver are off because
    # digest.text does both, once, three times faster. No Content-Location either: relative
    # entry links resolve against the feed's own <link> first (in entry_to_item).
    headers = {k: v for k, v in headers.items() if k != "content-location"}
    return feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )


class BufferedExpatParser(ExpatParser):
    """The standard library's expat SAX driver, with expat's text buffering on.

    Why: without it expat reports text in pieces cut at every entity reference and line
    break, and an escaped-HTML description (`&lt;p&gt;...`) reached feedparser's Python
    handlers some 80 times per item: buffering took a fifth off feedparser's time. SAX
    allows any cutting of text, so handlers see the same text (checked by the tests).
    """

    def reset(self) -> None:
        super().reset()
        # A private attribute of the standard driver: should a Python rename it, parsing
        # goes on unbuffered (slower, same result) rather than failing every feed.
        expat = getattr(self, "_parser", None)
        if expat is not None:
            expat.buffer_text = True
            expat.buffer_size = 1 << 16


def create_parser() -> BufferedExpatParser:
    """The SAX driver entry point: this module is named in feedparser's parser list."""
    return BufferedExpatParser()


# feedparser asks xml.sax.make_parser for the first driver of this list that imports.
_DRIVERS = getattr(feedparser.api, "PREFERRED_XML_PARSERS", None)
if isinstance(_DRIVERS, list) and __name__ not in _DRIVERS:
    _DRIVERS.insert(0, __name__)


def _check(result: Any, content_type: str) -> None:
    """Accept anything that yields entries (even if malformed, as rss2email learned)."""
    if result.entries:
        return
    if not result.get("version"):
        got = content_type.split(";")[0].strip() or t("source.no_content_type")
        raise ParseError(t("source.not_a_feed", got=got))
    problem = result.get("bozo_exception")
    if result.get("bozo") and not isinstance(problem, feedparser.ThingsNobodyCaresAboutButMe):
        raise ParseError(t("source.malformed", error=problem))


def _items(
    entries: list[Any],
    source: SourceConfig,
    base: str | None,
    atom: bool = False,
    language: str | None = None,
) -> tuple[Item, ...]:
    """One Item per entry; a GUID (or key) seen earlier in the feed keeps its first entry.
    Posts of one page told apart by their fragment keep it in their key (digest.identity)."""
    items: list[Item] = []
    keys: set[str] = set()
    guids: set[str] = set()
    read = (_entry_item(entry, source, base, atom, language) for entry in entries)
    for item in distinguish_fragments(with_feed_language([i for i in read if i is not None])):
        if item.key in keys or (item.guid is not None and item.guid in guids):
            continue
        keys.add(item.key)
        if item.guid is not None:
            guids.add(item.guid)
        items.append(item)
    return tuple(items)


def _entry_item(
    entry: Any, source: SourceConfig, base: str | None, atom: bool, language: str | None
) -> Item | None:
    """entry_to_item, or None for an entry whose fields feedparser left in a shape no feed
    means (an RSS item with its own `<links>` or `<title_detail>` element: feedparser keeps
    unknown elements under their own names, which are its keys too). Such an entry is left
    out and the rest of the feed is read, rather than the whole feed failing."""
    try:
        return entry_to_item(entry, source, base, atom, language)
    except (AttributeError, TypeError, KeyError, IndexError):
        return None


def entry_to_item(
    entry: Any,
    source: SourceConfig,
    base: str | None,
    atom: bool = False,
    language: str | None = None,
) -> Item | None:
    """The cleaned Item of one feedparser entry; None when it has no title and no text to
    draw one from (a bare link would show as an empty bullet). `language`: the feed's
    declared one, used when the entry declares none."""
    guid = _guid(entry)
    url = _link(entry, base) or http_url(guid)
    html_base = url or base
    summary_html = sanitize_html(_body(entry, atom), html_base)
    summary_text = summarize(sanitized_to_text(summary_html))
    title = _title(entry) or _title_from(summary_text)
    if not title:
        return None
    image = _image(entry, summary_html, html_base)
    return Item(
        key=item_key(url, guid, source.name, title, summary_text),
        title=title,
        url=url,
        published=_published(entry),
        source=source.name,
        summary_html=summary_html,
        summary_text=summary_text,
        categories=_categories(entry),
        image=image,
        image_alt=sanitized_image_alt(summary_html, image),
        author=clean_title(entry.get("author") or "") or None,
        guid=guid,
        origin="feed",
        language=text_language(_language(entry) or language, title, summary_text),
    )


def _language(entry: Any) -> str | None:
    """The entry's own xml:lang (Atom), on its title, content or summary."""
    details = [
        entry.get("title_detail"),
        *(entry.get("content") or ()),
        entry.get("summary_detail"),
    ]
    return next((tag for d in details if d and (tag := declared_language(d.get("language")))), None)


def _guid(entry: Any) -> str | None:
    guid = remove_control_chars(str(entry.get("id") or "")).strip()
    return guid or None


def _link(entry: Any, base: str | None) -> str | None:
    """The entry's link: FeedBurner's original link rather than its click-counting redirect,
    and the target of a Google Alerts redirect."""
    link = http_url(entry.get("link"), base)
    if link and is_feedburner_redirect(link):
        link = http_url(entry.get("feedburner_origlink"), base) or link
    return http_url(unwrap_redirect(link)) if link else None


def _body(entry: Any, atom: bool = False) -> str:
    """The entry's full content when it has one, else its summary (RSS description), as HTML.

    An Atom text construct (`type="text"`, the default) is text: escaped here, so that
    "a &lt; b" stays "a < b". RSS says nothing of the kind and its description is HTML by
    custom (feedparser calls some of it text/plain, iTunes summaries among them): kept as is.
    """
    for content in entry.get("content") or ():
        if content.get("value"):
            return _as_html(str(content["value"]), content.get("type"), atom)
    detail = entry.get("summary_detail") or {}
    return _as_html(str(entry.get("summary") or ""), detail.get("type"), atom)


def _as_html(value: str, kind: str | None, atom: bool) -> str:
    return text_to_html(value) if atom and kind == "text/plain" else value


def _title(entry: Any) -> str:
    """The entry's title as one line of plain text.

    Atom says whether a title is text, html or xhtml; for RSS, feedparser guesses text/html
    when the title has a closing tag or an HTML entity, and only known tags. A text/plain
    title is literal: "Utiliser <script> sans risque" or "a < b" must keep its '<'.
    """
    raw = str(entry.get("title") or "")
    kind = (entry.get("title_detail") or {}).get("type")
    return plain_title(raw) if kind == "text/plain" else clean_title(raw)


TITLE_FROM_WORDS = 12  # an untitled entry's title: its first sentence if no longer...
TITLE_FROM_SENTENCE_WORDS = 15  # ...than this, else this many words and "…"


def _title_from(text: str) -> str:
    """A title for an untitled entry (a linkblog's, a microblog's) from its text (plain
    already): its first sentence when short, else its first words and "…"; "" for none."""
    words = text.split()
    for index, word in enumerate(words[:TITLE_FROM_SENTENCE_WORDS]):
        if word.endswith((".", "!", "?", "…")) and index + 1 < len(words):
            return plain_title(" ".join(words[: index + 1]))
    if len(words) <= TITLE_FROM_SENTENCE_WORDS:
        return plain_title(" ".join(words))
    cut = " ".join(words[:TITLE_FROM_WORDS]).rstrip(",;:–—- ")
    return plain_title(cut + "…")


def _published(entry: Any) -> datetime | None:
    """The entry's own date in UTC, or None: undated items are select's to judge."""
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict.get maps a missing published_parsed to updated_parsed
        # with a DeprecationWarning; the order here is explicit instead.
        moment = dict.get(entry, name)
        if isinstance(moment, time.struct_time):
            try:
                return datetime(*moment[:6], tzinfo=UTC)
            except (ValueError, OverflowError):
                continue
    return None


def _categories(entry: Any) -> tuple[str, ...]:
    terms = (
        clean_title(tag.get("term") or tag.get("label") or "") for tag in entry.get("tags") or ()
    )
    return tuple(dict.fromkeys(term for term in terms if term))


def _image(entry: Any, summary_html: str, base: str | None) -> str | None:
    """The item's picture, chosen as a reader app does: media:content, media:thumbnail, an
    image enclosure, else the first real picture of the content; never a tracker, an ad, a
    badge, an avatar, an emoji (digest.urls.IMAGE_RULES) or an image under 50 pixels."""
    for candidate in _image_candidates(entry, summary_html):
        url = http_url(candidate, base)
        if url and not is_not_a_picture(url):
            return url
    return None


def _image_candidates(entry: Any, summary_html: str) -> Iterator[str]:
    """Possible illustrations, best first (a generator: the first good one ends the search)."""
    for media in entry.get("media_content") or ():
        if _is_image(media) and not _tiny(media.get("width"), media.get("height")):
            yield media.get("url", "")
    for thumbnail in entry.get("media_thumbnail") or ():
        if not _tiny(thumbnail.get("width"), thumbnail.get("height")):
            yield thumbnail.get("url", "")
    for enclosure in entry.get("enclosures") or ():
        href = str(enclosure.get("href", ""))
        if str(enclosure.get("type", "")).startswith("image/") or _IMAGE_EXT.search(href):
            yield href
    yield from _content_pictures(summary_html)


def _is_image(media: Any) -> bool:
    """A media:content that is an image: its medium or type says so, or, saying nothing,
    its URL ends like one."""
    kind = f"{media.get('medium', '')} {media.get('type', '')}"
    return "image" in kind or (not kind.strip() and bool(_IMAGE_EXT.search(media.get("url", ""))))


def _content_pictures(summary_html: str) -> Iterator[str]:
    """The content's images that could be its picture: not tiny, and before any block of
    share buttons (sanitize_html keeps only share classes on a <div>)."""
    share = _SHARE_BLOCK.search(summary_html)
    end = share.start() if share else len(summary_html)
    for img in _IMG.finditer(summary_html, 0, end):
        attributes = dict(_ATTRIBUTE.findall(img.group(1)))
        if "src" in attributes and not _tiny(attributes.get("width"), attributes.get("height")):
            yield html.unescape(attributes["src"])


def _tiny(*sizes: object) -> bool:
    """True when a declared width or height is below MIN_PICTURE_PIXELS ("1", "16px"...)."""
    for size in sizes:
        digits = re.match(r"\s*(\d+)\s*(?:px)?\s*$", str(size or ""))
        if digits and int(digits.group(1)) < MIN_PICTURE_PIXELS:
            return True
    return False
