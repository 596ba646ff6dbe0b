"""Cleaning of untrusted text and HTML, shared by every source.

Everything a partner's feed or a recap says goes through here before any other stage sees
it: titles become plain single-line text, HTML goes through the nh3 allowlist with links
made absolute, and summaries are cut to a length that reads well in an email.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.parser import HTMLParser

from .chars import remove_control_chars
from .urls import LINK_SCHEMES, link_filter

# The elements that end a line of text: each separates the words before it from the words
# after it, in every text drawn from HTML (summaries, titles). Why all of them: an element
# the sanitizer dropped or the text extractor ignored glued its neighbours,
# `<div>One.</div><div>Two.</div>` read "One.Two.".
BLOCK_TAGS = frozenset(
    (
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl",
        "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "ul",
    )
)  # fmt: skip
# Block elements are kept (without attributes) so that the sanitized HTML still separates
# what they separated: nh3 drops a tag it does not allow and joins the text around it.
ALLOWED_TAGS = BLOCK_TAGS | {
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "em",
    "i",
    "img",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "u",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
# Classes of the blocks of share buttons that blogs and FeedBurner append to an entry
# (FeedFlare, Jetpack's sharedaddy, AddToAny, Shareaholic...). Kept on <div> so that the
# picture of an item is never taken from them (see digest.sources.feedparse).
SHARE_CLASSES = frozenset(
    (
        "feedflare", "sharedaddy", "sd-sharing-enabled", "share", "shares", "sharing",
        "share-buttons", "share-links", "social-share", "social-sharing",
        "addtoany_share_save_container", "a2a_kit", "shareaholic-canvas",
    )
)  # fmt: skip

TITLE_MAX_CHARS = 300
SUMMARY_MAX_WORDS = 60  # longer texts are cut...
SUMMARY_CUT_WORDS = 50  # ...to about this many words, at a sentence end when one is near

# A 1x1 (or 0x0) image is a tracking pixel, not an illustration.
_PIXEL = re.compile(
    r"<img\b[^>]*\b(?:width|height)\s*=\s*[\"']?\s*[01](?:px)?\s*(?=[\"'\s/>])[^>]*>", re.I
)
_SPACES = re.compile(r"\s+")
# An <img> without a src: its URL was refused (a tracker, a javascript: URL...), and an
# image with nothing to show is not worth keeping.
_IMG_WITHOUT_SRC = re.compile(r'<img\b(?![^>]*\ssrc=")[^>]*>')
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


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


def sanitize_html(raw: str, base_url: str | None = None) -> str:
    """Allowlist-sanitized HTML: no scripts, styles, handlers, pixels or odd URL schemes."""
    import nh3  # imported here so that modules that only need plain text stay light

    without_pixels = _PIXEL.sub("", raw)
    cleaned = nh3.clean(
        without_pixels,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "iframe", "object", "embed", "template"},
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes={"div": SHARE_CLASSES},
        url_schemes=LINK_SCHEMES,
        attribute_filter=link_filter(base_url),  # it refuses known tracker images' src
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    if "<img" in cleaned:
        cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)
    return cleaned.strip()


def text_to_html(text: str) -> str:
    """Plain text as HTML that says the same: escaped, a paragraph per blank-line break.

    Why: an Atom `type="text"` summary is text, "if a&lt;b and b&gt;c" included; read as
    HTML it lost everything between the brackets ("if ac").
    """
    paragraphs = (part.strip() for part in _PARAGRAPH_BREAK.split(text))
    return "".join(f"<p>{html.escape(part, quote=False)}</p>" for part in paragraphs if part)


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
        elif tag in BLOCK_TAGS:
            self._end_piece()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1
        elif tag in BLOCK_TAGS:
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
_BLOCK_NAMES = "|".join(sorted(BLOCK_TAGS))  # the lookahead keeps "th" from "thead"
_BLOCK_TAG = re.compile(rf'</?(?:{_BLOCK_NAMES})(?=[\s/>])[^">]*(?:"[^"]*"[^">]*)*>', re.I)


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


# Links and pictures of sanitized HTML, as data for render. Regexes, not a parser, for the
# reason sanitized_to_text gives: nh3 writes every attribute value in double quotes, escapes
# '<' in text and never nests <a>, so an <a …>…</a> pair is found by one scan.
_ANCHOR = re.compile(r'<a\b([^">]*(?:"[^"]*"[^">]*)*)>(.*?)</a>', re.S | re.I)
_IMG = re.compile(r'<img\b([^">]*(?:"[^"]*"[^">]*)*)/?>', re.I)
_ATTRIBUTE = re.compile(r'\s([a-z-]+)="([^"]*)"', re.I)


def _attributes(inside: str) -> dict[str, str]:
    return {name.lower(): html.unescape(value) for name, value in _ATTRIBUTE.findall(inside)}


def sanitized_links(fragment: str) -> tuple[tuple[str, str], ...]:
    """The (text, URL) of each http(s) link of sanitized HTML, in order: what a summary's
    plain text loses. A link with no text, or to anything but http(s), is left out."""
    if "<a" not in fragment:
        return ()  # most summaries: one C-level scan
    links: list[tuple[str, str]] = []
    for inside, content in _ANCHOR.findall(fragment):
        href = _attributes(inside).get("href", "")
        text = _SPACES.sub(" ", html.unescape(_TAG.sub("", content))).strip()
        if text and href.lower().startswith(("http://", "https://")):
            links.append((remove_control_chars(text), href))
    return tuple(links)


def sanitized_image_alt(fragment: str, src: str | None) -> str:
    """The alt text the sanitized HTML gives the picture at `src`, or "" (none, or `src`
    is not one of its pictures: a media:content image has no alt of its own)."""
    if not src or "<img" not in fragment:
        return ""
    for tag in _IMG.finditer(fragment):
        found = _attributes(tag[1])
        if found.get("src") == src:
            return plain_title(found.get("alt", ""))
    return ""
