"""Recap text: French date lines and the Markdown body turned into a short, safe summary.

Used by files.py. Everything here is pure (no I/O): a date string becomes an aware datetime
(a date alone is 00:00 in the newsletter's timezone), and a recap body becomes the sanitized
HTML of its lead, with the title, date lines and the site's newsletter footer left out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ..errors import ParseError, quoted
from ..i18n import t
from ..text import html_to_text, sanitize_html

HEAD_LINES = 5  # the date line is looked for among the first non-blank lines only
LEAD_MIN_WORDS = 30  # the lead stops once it has this many words...
LEAD_MAX_BLOCKS = 3  # ...or this many paragraphs/lists

_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_MONTHS = {
    **dict.fromkeys(("janvier", "janv", "jan"), 1),
    **dict.fromkeys(("fevrier", "fevr", "fev"), 2),
    **dict.fromkeys(("mars", "mar"), 3),
    **dict.fromkeys(("avril", "avr"), 4),
    "mai": 5,
    "juin": 6,
    **dict.fromkeys(("juillet", "juil"), 7),
    "aout": 8,
    **dict.fromkeys(("septembre", "sept", "sep"), 9),
    **dict.fromkeys(("octobre", "oct"), 10),
    **dict.fromkeys(("novembre", "nov"), 11),
    **dict.fromkeys(("decembre", "dec"), 12),
}
# Matched against accent-folded, lower-cased text: "Mis à jour le 11 mai 2023",
# "Publié le 3 mars 2024", "Le 09.04.2024", "11/05/2023", "1er juin 2023 à 14h30".
_DATE = re.compile(
    r"^(?:(?:mise?\s+a\s+jour|publiee?|ecrite?|redigee?)\s+le\s+|le\s+|date\s*:\s*)?"
    r"(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+)?"
    r"(?:(?P<day>\d{1,2})(?:er)?\s+(?P<month>[a-z]+)\.?\s+(?P<year>\d{4})"
    r"|(?P<nday>\d{1,2})[./-](?P<nmonth>\d{1,2})[./-](?P<nyear>\d{4}|\d{2})"
    r"|(?P<iyear>\d{4})-(?P<imonth>\d{1,2})-(?P<iday>\d{1,2}))"
    r"(?:\s*(?:,|a|t)?\s*(?P<hour>\d{1,2})\s*[h:]\s*(?P<minute>\d{2})?)?\s*\.?$"
)
# Newsletter boilerplate of the centre's site: everything from such a line on is left out.
_FOOTER = (
    "abonnez-vous",
    "recevez le meilleur de l'information regionale",
    "s'inscrire",
    "decouvrez d'autres contenus similaires",
)
_DEAD_LINK = re.compile(r"<a\b(?![^>]*\bhref=)[^>]*>(.*?)</a>", re.S)
_DEAD_IMAGE = re.compile(r"<img\b(?![^>]*\bsrc=)[^>]*>")
# CommonMark with raw HTML off, as digest.text.markdown_to_html; we need its tokens to fix
# links before rendering, so the rendering and sanitizing steps are repeated here.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text, for matching French words."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.lower().split())


def parse_date(text: str, tz: ZoneInfo) -> datetime | None:
    """An aware datetime from ISO 8601 or a French date; None if `text` is not one.

    A date without a time is that day at 00:00 in `tz`; a naive time is local to `tz`.
    An impossible date ("31 février 2023") is None too.
    """
    try:
        return aware(datetime.fromisoformat(text.strip()), tz)
    except ValueError:
        pass
    found = match_date(text)
    if not found:
        return None
    parts = found.groupdict()
    year = int(parts["year"] or parts["nyear"] or parts["iyear"])
    month = _MONTHS.get(parts["month"] or "", 0) or int(parts["nmonth"] or parts["imonth"] or 0)
    day = int(parts["day"] or parts["nday"] or parts["iday"])
    hour, minute = int(parts["hour"] or 0), int(parts["minute"] or 0)
    try:
        return datetime(year + 2000 if year < 100 else year, month, day, hour, minute, tzinfo=tz)
    except ValueError:
        return None


def match_date(text: str) -> re.Match[str] | None:
    """The date pattern on the folded line, if it matches with a known month name."""
    found = _DATE.match(fold(text).strip("*_ "))
    if found and found.group("month") and found.group("month") not in _MONTHS:
        return None
    return found


def aware(value: datetime | date, tz: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


# --- body ---------------------------------------------------------------------------------


def strip_head(
    body: str, name: str, tz: ZoneInfo, first_line: int
) -> tuple[str | None, datetime | None, str]:
    """Take the leading `# title` and date line(s) out of the body; cut the footer off."""
    lines = body.split("\n")
    heading, when, seen = None, None, 0
    for index, line in enumerate(lines):
        if seen >= HEAD_LINES:
            break
        if not line.strip():
            continue
        seen += 1
        title = _H1.match(line)
        if title and heading is None:
            heading, lines[index] = _inline_text(title.group(1)), ""
        elif match_date(line):
            when = when or _line_date(line, name, tz, first_line + index)
            lines[index] = ""
    return heading, when, "\n".join(_before_footer(lines))


def _line_date(line: str, name: str, tz: ZoneInfo, number: int) -> datetime:
    parsed = parse_date(line, tz)
    if parsed is None:
        wrong = t("recap.not_a_real_date", value=quoted(line.strip()))
        raise ParseError(f"{name}:{number}: {wrong}", hint=t("recap.not_a_real_date_hint"))
    return parsed


def _before_footer(lines: list[str]) -> list[str]:
    """The lines before the site's newsletter boilerplate (ignoring code blocks)."""
    in_code = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and fold(line).lstrip("#*_>[-+ ").startswith(_FOOTER):
            return lines[:index]
    return lines


def _inline_text(markdown: str) -> str:
    return html_to_text(_MARKDOWN.renderInline(markdown))


def summary(body: str, given: str | None, base: str | None) -> tuple[str, str | None]:
    """(sanitized HTML of the lead, or of `summary:` when given; first image of the body)."""
    env: dict[str, Any] = {}
    tokens = _MARKDOWN.parse(body, env)
    image = _fix_links(tokens, base)
    chosen = _lead(tokens)
    if given is not None:
        env = {}
        chosen = _MARKDOWN.parse(given, env)
        _fix_links(chosen, base)
    rendered = sanitize_html(_MARKDOWN.renderer.render(chosen, _MARKDOWN.options, env), base)
    return _DEAD_IMAGE.sub("", _DEAD_LINK.sub(r"\1", rendered)), image


def _fix_links(tokens: list[Token], base: str | None) -> str | None:
    """Resolve links against `base`; unwrap links to nowhere. Returns the first image URL."""
    images: list[str] = []
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = _fix_inline(token.children, base, images)
    return images[0] if images else None


def _fix_inline(children: list[Token], base: str | None, images: list[str]) -> list[Token]:
    kept: list[Token] = []
    unwrap = False  # links do not nest in CommonMark: the next link_close is this link's
    for child in children:
        if child.type == "link_close" and unwrap:
            unwrap = False
            continue
        if child.type in ("link_open", "image"):
            key = "href" if child.type == "link_open" else "src"
            target = _resolve(str(child.attrGet(key) or ""), base, image=key == "src")
            if target is None:
                unwrap = unwrap or key == "href"
                continue
            child.attrSet(key, target)
            if key == "src":
                images.append(target)
        kept.append(child)
    return kept


def _resolve(target: str, base: str | None, image: bool) -> str | None:
    """An absolute http(s) (or mailto for links) URL, or None for '#', relative without base…"""
    target = target.strip()
    if not target or target.startswith("#"):
        return None
    try:
        scheme = urlsplit(target).scheme.lower()
        if not scheme and base:
            target = urljoin(base, target)
            scheme = urlsplit(target).scheme.lower()
    except ValueError:
        return None
    allowed = ("http", "https") if image else ("http", "https", "mailto")
    return target if scheme in allowed else None


def _lead(tokens: list[Token]) -> list[Token]:
    """The opening paragraph(s) of the article: up to the first heading, about 30+ words."""
    chosen: list[Token] = []
    words = blocks = 0
    for block in _top_blocks(tokens):
        if block[0].type in ("heading_open", "hr"):
            if chosen:
                break
            continue
        count = _words(block)
        if count:
            chosen.extend(block)
            words, blocks = words + count, blocks + 1
        if words >= LEAD_MIN_WORDS or blocks >= LEAD_MAX_BLOCKS:
            break
    return chosen


def _top_blocks(tokens: list[Token]) -> Iterator[list[Token]]:
    start = 0
    for index, token in enumerate(tokens):
        if token.level != 0:
            continue
        if token.nesting == 1:
            start = index
        elif token.nesting == -1:
            yield tokens[start : index + 1]
        else:
            yield [token]


def _words(block: list[Token]) -> int:
    count = 0
    for token in block:
        if token.type == "inline":
            texts = [c.content for c in token.children or [] if c.type in ("text", "code_inline")]
            count += len(" ".join(texts).split())
        elif token.type in ("fence", "code_block"):
            count += len(token.content.split())
    return count
