"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1) read into feedparser-shaped entries.

`json_entries(body, content_type, base_url)` decodes the document with the standard
library's `json` and gives each item as the loose dict feedparser gives for an RSS or Atom
entry, and the base of its relative links. feedparse.parse_feed then makes Items of them
exactly as of XML entries: one sanitizer, one title rule, one choice of picture, one
identity. Every value is checked for its type: a string where an object is expected, or an
`items` that is not a list, costs that value or the feed (ParseError), never a traceback.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from ..chars import NotUtf8, decode
from ..errors import ParseError
from ..i18n import t
from ..urls import http_url

# Types a JSON Feed is served as; the document itself must still say it is one.
JSON_TYPES = frozenset({"application/feed+json", "application/json"})
# Version 1 was announced with http:// URLs before the spec settled on https://.
_VERSION = re.compile(r"https?://jsonfeed\.org/version/", re.I)
_BLANK_LINES = re.compile(r"\n\s*\n")
# What may come before the first character: spaces, and the bytes of a UTF-8, UTF-16 or
# UTF-32 byte order mark or encoding (so that UTF-16 JSON is refused as not UTF-8, by name).
_LEADING_NOISE = b"\xef\xbb\xbf\xfe\xff\x00 \t\r\n"


def is_json(body: bytes, content_type: str) -> bool:
    """Whether `body` is to be read as JSON: it opens like JSON, or is served as JSON and
    does not open like XML (a server may call its RSS `application/json`)."""
    head = body.lstrip(_LEADING_NOISE)[:1]
    if head in (b"{", b"["):
        return True
    return _mime(content_type) in JSON_TYPES and head != b"<"


def json_entries(
    body: bytes, content_type: str, base_url: str | None
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """The feed's items as feedparser-shaped entries, the base for their links, and the
    feed's declared `language` (JSON Feed 1.1), if any."""
    document = _load(body)
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not _VERSION.match(version):
        got = _mime(content_type) or t("source.no_content_type")
        raise ParseError(t("source.not_a_feed", got=got))
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(t("source.json_no_items"))
    base = _feed_base(document, base_url)
    language = document.get("language")
    entries = [_entry(item) for item in items if isinstance(item, dict)]
    return entries, base, language if isinstance(language, str) else None


def _mime(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _load(body: bytes) -> Any:
    """The decoded document. JSON is UTF-8 (RFC 8259): other bytes are refused, not guessed.

    Duplicate keys: the last one wins (the json module's rule, as most readers do).
    """
    try:
        return json.loads(decode(body))
    except NotUtf8 as exc:
        raise ParseError(t("source.json_not_utf8", error=exc)) from None
    except RecursionError:  # nesting deeper than the interpreter's stack allows
        raise ParseError(t("source.json_invalid", error=t("source.json_too_deep"))) from None
    except ValueError as exc:  # JSONDecodeError, or an integer of thousands of digits
        raise ParseError(t("source.json_invalid", error=str(exc)[:200])) from None


def _feed_base(document: dict[str, Any], base_url: str | None) -> str | None:
    """The feed's home page, else its own URL (each made absolute), else where it came from."""
    for name in ("home_page_url", "feed_url"):
        url = http_url(_text(document, name), base_url)
        if url:
            return url
    return base_url


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    """One JSON Feed item as the dict feedparser would give for the same XML entry."""
    return {
        "id": _id(item.get("id")),
        "link": _text(item, "url") or _text(item, "external_url"),
        "title": _text(item, "title"),
        # JSON Feed titles are plain text: "a < b" keeps its '<'.
        "title_detail": {"type": "text/plain"},
        "content": [{"value": _body_html(item)}],
        "published_parsed": _moment(item, "date_published"),
        "updated_parsed": _moment(item, "date_modified"),
        "tags": [{"term": tag} for tag in _list(item, "tags") if isinstance(tag, str)],
        "author": _author(item),
        # The item's own picture first, as media:content would be; its banner next.
        "media_content": [{"url": _text(item, "image"), "medium": "image"}],
        "media_thumbnail": [{"url": _text(item, "banner_image")}],
        "enclosures": [_enclosure(a) for a in _list(item, "attachments") if isinstance(a, dict)],
    }


def _text(mapping: dict[str, Any], name: str) -> str:
    value = mapping.get(name)
    return value if isinstance(value, str) else ""


def _list(mapping: dict[str, Any], name: str) -> list[Any]:
    value = mapping.get(name)
    return value if isinstance(value, list) else []


def _id(value: object) -> str:
    """The item's id as text: the spec asks readers to turn a numeric id into a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _body_html(item: dict[str, Any]) -> str:
    """`content_html` as HTML; else `content_text`, else `summary`: text, escaped so it stays
    text, its blank lines kept as paragraphs and its line breaks as <br>."""
    content = _text(item, "content_html")
    if content.strip():
        return content
    text = _text(item, "content_text").strip() or _text(item, "summary").strip()
    paragraphs = (html.escape(p.strip()).replace("\n", "<br>") for p in _BLANK_LINES.split(text))
    return "".join(f"<p>{p}</p>" for p in paragraphs if p)


def _moment(item: dict[str, Any], name: str) -> Any:
    """An RFC 3339 date as the UTC struct_time feedparser gives, or None. Some feeds write
    RSS's RFC 822 dates instead ("Fri, 11 Sep 2020 ..."): read those too."""
    written = _text(item, name).strip()
    try:
        moment = datetime.fromisoformat(written)
    except ValueError:
        try:
            moment = parsedate_to_datetime(written)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:  # RFC 3339 requires an offset; without one, say UTC
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC).timetuple()
    except (OverflowError, ValueError):  # year 1 minus an offset, year 9999 plus one
        return None


def _author(item: dict[str, Any]) -> str:
    """The first author's name: `authors` (1.1), else `author` (1)."""
    authors = [a for a in _list(item, "authors") if isinstance(a, dict)]
    single = item.get("author")
    for author in [*authors, single] if isinstance(single, dict) else authors:
        if _text(author, "name").strip():
            return _text(author, "name")
    return ""


def _enclosure(attachment: dict[str, Any]) -> dict[str, str]:
    return {"href": _text(attachment, "url"), "type": _text(attachment, "mime_type")}
