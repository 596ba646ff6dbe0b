"""The email HTML: email.mjml rendered by Jinja2, then compiled by MRML (mjml-python).

MRML reports errors without a position, so on failure the generated MJML is scanned for
the first unbalanced tag and that line is traced back to the template line it came from.
MRML also ignores `<mj-style inline="inline">` (it keeps the CSS as a plain <style>): when a
template has such blocks, css_inline applies them to the compiled HTML. The default
template writes its styles inline itself and skips that pass (~2 ms). And MRML writes
attribute values back Rust-style (`\\\\` for a backslash, `\\u{3000}` for a wide space, found
by compiling every code point): `mrml_proof` writes those characters as character
references first, which MRML passes through untouched and every reader decodes.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import css_inline
import mjml

from ..config import Config
from ..errors import RenderError
from ..i18n import t
from .placeholders import PLACEHOLDERS
from .templates import EMAIL_MJML, environment, render_template
from .view import IssueView

_INLINE_STYLE = re.compile(r"<mj-style\b[^>]*\binline=[\"']inline[\"'][^>]*>(.*?)</mj-style>", re.S)
_VOID = {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}


def render_email(view: IssueView, config: Config) -> str:
    """The compiled email HTML of `view` (with the per-subscriber placeholders in it)."""
    source = render_template(
        config,
        EMAIL_MJML,
        autoescape=True,
        issue=view,
        placeholders=PLACEHOLDERS,
    )
    return hide_decorative_links(inline_styles(compile_mjml(source, config), source))


# A picture linked to its article with an empty alt (decoration: its title, a link too, is
# right next to it) as MRML writes it.
_DECORATIVE_LINK = re.compile(r'<a (href="[^"<>]*"(?: target="_blank")?)>(?=<img alt="" )')


def hide_decorative_links(html: str) -> str:
    """Keep a decorative picture's link for a tap, out of screen readers and the tab order:
    a link with no text would be read as its bare URL, and the title's link says it all."""
    return _DECORATIVE_LINK.sub(r'<a \1 aria-hidden="true" tabindex="-1">', html)


def inline_styles(html: str, source: str) -> str:
    """Apply the MJML's `<mj-style inline="inline">` rules to the HTML, as MJML would."""
    blocks = _INLINE_STYLE.findall(source)
    if not blocks:
        return html
    inliner = css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        load_remote_stylesheets=False,
        extra_css="\n".join(blocks),
    )
    try:
        inlined: str = inliner.inline(html)
    except (css_inline.InlineError, ValueError) as exc:
        raise RenderError(
            t("render.inline_css", name=EMAIL_MJML, error=exc), hint=t("render.inline_css_hint")
        ) from exc
    return inlined


def compile_mjml(source: str, config: Config) -> str:
    """MJML to HTML; no web fonts (the templates use system fonts), no MJML comments."""
    try:
        html: str = mjml.mjml2html(mrml_proof(source), disable_comments=True, fonts={})
    except ValueError as exc:
        where = _locate(source, config)
        raise RenderError(
            t("render.mjml", where=where, error=exc), hint=t("render.mjml_hint")
        ) from exc
    return html


# An attribute value (quoted, as Jinja writes them: no raw quote, < or > inside) holding
# a character that MRML might escape: anything but printable ASCII, or a backslash. One
# C-level scan finds the few such values (accented alt texts); Python rewrites only those.
_PLAIN = r"\x20-\x5b\x5d-\x7e"  # printable ASCII, the backslash excepted
_SUSPECT_VALUE = re.compile(
    rf'=(?:"([^"<>]*[^{_PLAIN}"<>][^"<>]*)"' + rf"|'([^'<>]*[^{_PLAIN}'<>][^'<>]*)')"
)
_SUSPECT_CHAR = re.compile(f"[^{_PLAIN}]")


# The title: MRML also writes it into the body's aria-label, Rust-style ("12\\u{a0}%"
# for a French no-break space).
_TITLE = re.compile(r"(<mj-title>)([^<]*)(</mj-title>)")


def mrml_proof(source: str) -> str:
    """`source` with its attribute values (and its title, which MRML copies into one)
    written so that MRML leaves them as they are."""
    return _TITLE.sub(_proof_title, _SUSPECT_VALUE.sub(_proof_value, source), count=1)


def _proof_title(match: re.Match[str]) -> str:
    return match[1] + _SUSPECT_CHAR.sub(_proof_char, match[2]) + match[3]


def _proof_value(match: re.Match[str]) -> str:
    quote = '"' if match[1] is not None else "'"
    # NFC first: "e" + U+0301 becomes "é", which MRML keeps; a combining mark that still
    # opens the value has nothing to sit on, and MRML would escape it.
    value = unicodedata.normalize("NFC", match[1] if match[1] is not None else match[2])
    start = 0
    while start < len(value) and unicodedata.category(value[start])[0] == "M":
        start += 1
    return f"={quote}{_SUSPECT_CHAR.sub(_proof_char, value[start:])}{quote}"


def _proof_char(match: re.Match[str]) -> str:
    return _mrml_proof_char(match[0])


# Letters Rust also calls unprintable: the Hangul fillers and halfwidth sound marks.
_RUST_UNPRINTABLE = frozenset("\u115f\u1160\u3164\uffa0\uff9e\uff9f")


@lru_cache(maxsize=4096)
def _mrml_proof_char(char: str) -> str:
    """`char` as MRML will leave it: a character reference for what it would escape (a
    backslash, tab or newline; a mark, space, format or unassigned character; the few
    letters Rust finds unprintable), nothing for the controls HTML would misread as
    references (C0 and C1: &#128; is "€" in HTML), else `char` itself."""
    reference = f"&#x{ord(char):x};"
    if char in "\\\t\n\r":
        return reference
    category = unicodedata.category(char)
    if category in ("Cc", "Cs"):
        return ""
    return reference if category[0] in "CZM" or char in _RUST_UNPRINTABLE else char


class _Balance(HTMLParser):
    """Finds the line of the first tag left open (or closed that was never opened)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[tuple[str, int]] = []
        self.problem: int | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in _VOID:
            self.stack.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        if self.problem is not None or tag in _VOID:
            return
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()
        elif any(open_tag == tag for open_tag, _ in self.stack):
            self.problem = self.stack[-1][1]  # closes an outer tag: the inner one is open
        else:
            self.problem = self.getpos()[0]  # closes a tag that was never opened

    def first_problem(self) -> int | None:
        if self.problem is None and self.stack:
            return self.stack[-1][1]
        return self.problem


_JINJA = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})")


def _pattern(template_line: str) -> re.Pattern[str] | None:
    """A template line as a regex over its output: Jinja tags match anything. None for
    lines with too little literal text to tell them apart."""
    parts = _JINJA.split(template_line.strip())
    literal = "".join(parts[0::2])
    if len(literal.strip()) < 8:
        return None
    return re.compile("".join(re.escape(p) if i % 2 == 0 else ".*?" for i, p in enumerate(parts)))


def _template_line(template: str, generated: str) -> int | None:
    """The template line that most likely printed `generated`: exact text first."""
    lines = template.splitlines()
    for number, candidate in enumerate(lines, start=1):
        if candidate.strip() == generated:
            return number
    for number, candidate in enumerate(lines, start=1):
        pattern = _pattern(candidate)
        if pattern is not None and pattern.fullmatch(generated):
            return number
    return None


def _locate(source: str, config: Config) -> str:
    """'<template path>, line N' for the generated line that breaks, as best we can tell."""
    scanner = _Balance()
    scanner.feed(source)
    scanner.close()
    line = scanner.first_problem()
    env = environment(config, autoescape=True)
    assert env.loader is not None
    template, filename, _ = env.loader.get_source(env, EMAIL_MJML)
    if line is None:
        return str(filename)
    generated = source.splitlines()[line - 1].strip()
    number = _template_line(template, generated)
    if number is not None:
        return t("render.where", file=filename, line=number)
    return t("render.where_generated", file=filename, line=line, text=repr(generated[:120]))
