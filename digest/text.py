"""Cleaning of untrusted text and HTML, shared by every source.

Everything a partner's feed or a recap says goes through here before any other stage sees
it: titles become plain single-line text, HTML goes through the nh3 allowlist with links
made absolute, and summaries are cut to a length that reads well in an email.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from .urls import backslashes_as_slashes, browser_url

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "cite",
    "code",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
LINK_SCHEMES = {"http", "https", "mailto"}
IMAGE_SCHEMES = {"http", "https"}

TITLE_MAX_CHARS = 300
SUMMARY_MAX_WORDS = 60  # longer texts are cut...
SUMMARY_CUT_WORDS = 50  # ...to about this many words, at a sentence end when one is near

# A 1x1 (or 0x0) image is a tracking pixel, not an illustration.
_PIXEL = re.compile(
    r"<img\b[^>]*\b(?:width|height)\s*=\s*[\"']?\s*[01](?:px)?\s*(?=[\"'\s/>])[^>]*>", re.I
)
_SPACES = re.compile(r"\s+")
_BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr"}


_BREAKS = re.compile("[\t\n\r\u2028\u2029\x85]")
# Unicode's space separators other than " ": str.isprintable() calls them unprintable.
_SEPARATORS = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def remove_control_chars(text: str) -> str:
    """Drop control and format characters (CR, LF, NUL, bidi overrides) except spaces.

    Line breaks become spaces. The fast path (C-level regex and isprintable) answers for
    almost every real text; the character walk only runs when something must go.
    """
    text = _BREAKS.sub(" ", text)
    if _SEPARATORS.sub(" ", text).isprintable():
        return text
    return "".join(c for c in text if unicodedata.category(c) not in _DROPPED)


_DROPPED = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))


def clean_title(raw: str) -> str:
    """A one-line plain-text title from HTML: tags stripped, entities decoded, controls removed."""
    return plain_title(html_to_text(raw) if "<" in raw or "&" in raw else raw)


def plain_title(text: str) -> str:
    """A one-line title from plain text, kept as written ("a < b", "<script>" included):
    controls removed, spaces folded, cut to TITLE_MAX_CHARS. Templates escape it."""
    text = _SPACES.sub(" ", remove_control_chars(text)).strip()
    if len(text) > TITLE_MAX_CHARS:
        text = text[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text


def http_url(value: str | None, base: str | None = None) -> str | None:
    """`value` made absolute against `base` and written as a browser would (digest.urls:
    punycode for a lookalike host, ASCII for the rest), or None unless it is an http(s) URL
    with a host a browser accepts, a numeric port if any, and no user or password."""
    if not value:
        return None
    value = href_text(value)
    try:
        absolute = join_url(base, value)
        if _PLAIN_ABSOLUTE.match(absolute):
            return absolute  # what the checks below would accept, without parsing it
        return _web_url(absolute)
    except ValueError:  # "http://[x/": urllib refuses it, so do we
        return None


def href_text(value: str) -> str:
    """A link as a browser reads it (WHATWG URL parsing): ASCII tabs and newlines vanish
    rather than become spaces, so `JAVA&#x09;SCRIPT:` is `javascript:` and refused as such,
    not a relative path; other control characters go too, spaces around it as well; and in
    an http(s) or relative link a backslash before the query is a slash."""
    if "\t" in value or "\n" in value or "\r" in value:  # three scans beat one regex sub
        value = _TAB_NEWLINE.sub("", value)
    value = remove_control_chars(value).strip()
    return backslashes_as_slashes(value) if "\\" in value else value


_TAB_NEWLINE = re.compile("[\t\n\r]")


def _web_url(absolute: str) -> str | None:
    """`absolute` as it may reach a reader, or None unless it is http(s) with a host, a
    numeric port and no user or password; ValueError when urllib cannot split it.

    Why no credentials: `https://www.cerdd.org:443@evil.example/` shows the Cerdd's address
    and leads to evil.example; no partner link needs a password in it.
    """
    parts = urlsplit(absolute)
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host or _NOT_IN_HOSTS.search(host):
        return None
    parts.port  # noqa: B018  # raises ValueError for "host:abc" or a port > 65535
    return None if "@" in parts.netloc else browser_url(absolute)


# What WHATWG forbids in a host name: a browser refuses the URL (urllib does not), and a
# space or a quote there would end the link early in the text part. '%' too: a browser
# decodes it in a host, which could hide a lookalike from the punycode check.
_NOT_IN_HOSTS = re.compile(r'[\x00-\x20"#%/<>?@\\^|\x7f]')


# URLs that urljoin would return unchanged (an http(s) scheme, a plain host, no port, no
# spaces or backslashes), and paths from the root it would only prefix with the
# base's scheme and host. Dot segments, empty ';', '?' or '#' parts (urljoin drops them)
# and '//' in a path (it folds them) take urljoin's own, exact path. _PLAIN_ABSOLUTE also
# says that browser_url would not change the URL: ASCII only, and none of the characters
# it percent-encodes (space " ' < > \ ` { }).
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.\-]+(?:[/?#][!#-&(-;=?-\[\]-_a-z|~]*)?\Z")
_PLAIN_ROOTED = re.compile(r"/(?![/\\])[^\s\\]*\Z")
_NEEDS_URLJOIN = re.compile(r"/\.|[;?#](?=[;?#]|\Z)")


def join_url(base: str | None, value: str) -> str:
    """urljoin(base, value), without its cost in the common cases.

    Why: a feed item carries several links and images; parsing each twice in urllib was a
    tenth of the CPU of reading a feed. `tests/test_core.py` checks the shortcuts against
    urljoin itself.
    """
    if not _NEEDS_URLJOIN.search(value):
        if _PLAIN_ABSOLUTE.match(value):
            return value
        if base and "//" not in value and _PLAIN_ROOTED.match(value):
            origin = _origin(base)
            if origin:
                return origin + value
    return urljoin(base, value) if base else value


@lru_cache(maxsize=1024)
def _origin(base: str) -> str | None:
    """'scheme://host[:port]' of an http(s) base URL, as urljoin would write it."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _url_filter(base: str | None):  # type: ignore[no-untyped-def]
    """An nh3 attribute filter that makes links absolute and drops the unsafe ones."""

    def keep(element: str, attribute: str, value: str) -> str | None:
        if attribute not in ("href", "src"):
            return value
        try:
            absolute = join_url(base, href_text(value))
            if _PLAIN_ABSOLUTE.match(absolute):
                return absolute  # http(s): allowed for links and images alike
            scheme = urlsplit(absolute).scheme.lower()
            if scheme in IMAGE_SCHEMES:  # http(s), for links and images alike
                return _web_url(absolute)
        except ValueError:  # "http://[x/" (here or in the base): no link rather than a crash
            return None
        return absolute if element != "img" and scheme in LINK_SCHEMES else None

    return keep


def sanitize_html(raw: str, base_url: str | None = None) -> str:
    """Allowlist-sanitized HTML: no scripts, styles, handlers, pixels or odd URL schemes."""
    import nh3  # imported here so that modules that only need plain text stay light

    without_pixels = _PIXEL.sub("", raw)
    return nh3.clean(
        without_pixels,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "template"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=LINK_SCHEMES,
        attribute_filter=_url_filter(base_url),
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, block by block (`pieces`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._current: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1
        elif tag in _BLOCKS:
            self._end_piece()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1
        elif tag in _BLOCKS:
            self._end_piece()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._current.append(data)

    def _end_piece(self) -> None:
        self.pieces.append("".join(self._current))
        self._current = []

    def close(self) -> None:
        super().close()
        self._end_piece()


def html_to_text(fragment: str) -> str:
    """The visible text of an HTML fragment on one line (blocks joined by `join_blocks`)."""
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return join_blocks(parser.pieces)  # convert_charrefs: already decoded, once (not twice)


# A tag as nh3 writes it: attribute values always in double quotes. nh3 0.2 escapes '>' in
# them too, but the pattern skips quoted values in case a later html5ever does not.
_TAG = re.compile(r'<[^">]*(?:"[^"]*"[^">]*)*>')
_BLOCK_TAG = re.compile(
    r'</?(?:p|div|br|li|h[1-6]|blockquote|tr)(?=[\s/>])[^">]*(?:"[^"]*"[^">]*)*>', re.I
)


def sanitized_to_text(fragment: str) -> str:
    """html_to_text for HTML that came out of sanitize_html, with regexes instead of a parser.

    Why: the parser walks every character in Python (4 ms for a feed's summaries). nh3's
    output is well-formed: no script or style content, no comments, a literal '<' only as
    the start of a tag, so cutting at block tags and removing the others gives the same text.
    """
    return join_blocks(html.unescape(_TAG.sub("", piece)) for piece in _BLOCK_TAG.split(fragment))


BLOCK_SEPARATOR = " – "
# A block ending with one of these already reads as the end of something.
_CLAUSE_ENDS = (".", ",", ";", ":", "!", "?", "…", "–", "—", "-")
_CLOSERS = " )]»\"'”’"


def join_blocks(pieces: Iterable[str]) -> str:
    """The text of consecutive blocks (paragraphs, list items, lines) on one line.

    Why the separator: `<li>Dépôt : jusqu'au 30 juin</li><li>Webinaire : le 24 mai</li>` read
    "...30 juin Webinaire..." once the tags were gone. A block that does not end with
    punctuation gets " – " after it (an en dash needs no French spacing rule); one that does
    gets a space.
    """
    parts: list[str] = []
    for piece in pieces:
        if not piece or piece.isspace():  # most of them: between </li> and <li>, say
            continue
        piece = _SPACES.sub(" ", remove_control_chars(piece)).strip()
        if not piece:
            continue
        if parts:
            ended = parts[-1].rstrip(_CLOSERS).endswith(_CLAUSE_ENDS)
            parts.append(" " if ended else BLOCK_SEPARATOR)
        parts.append(piece)
    return "".join(parts)


def summarize(text: str) -> str:
    """About 40-60 words of `text`, cut at a word boundary (at a sentence end if near)."""
    words = text.split()
    if len(words) <= SUMMARY_MAX_WORDS:
        return " ".join(words)
    cut = words[:SUMMARY_CUT_WORDS]
    # Prefer ending on a full sentence when one ends in the last part of the cut.
    for index in range(len(cut) - 1, 34, -1):
        if cut[index].endswith((".", "!", "?", "…")):
            return " ".join(cut[: index + 1])
    return " ".join(cut).rstrip(",;:–—- ") + "…"  # the space too: "30 juin –" ends "30 juin…"


def markdown_to_html(source: str, base_url: str | None = None) -> str:
    """CommonMark rendered with raw HTML disabled, then through the same allowlist."""
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": False}).render(source)
    return sanitize_html(rendered, base_url)
