"""The 100 KB rule: Gmail clips an email near 102 KB and hides what follows, which is the
footer with the unsubscribe link. An email over MAX_HTML_BYTES is made smaller by:

1. shortening every summary to SHORT_SUMMARY_WORDS words;
2. then dropping items, one at a time, from the end of the section that has the most
   (themes and agenda; "À la une" is never cut), adding a note that links the web page,
   which always has the whole issue;
3. failing with a RenderError if even no droppable item at all is too large (edito).

The header, subscribe block and footer are always kept. The size that counts is the one the
message carries: the HTML in UTF-8 and quoted-printable (message.py), where every accented
letter takes 6 bytes and every "=" of an attribute 3. A French issue of 95 KB of HTML can
weigh 130 KB in the message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from ..errors import RenderError
from ..i18n import Messages, is_plural, say, t
from .view import IssueView, SectionView

MAX_HTML_BYTES = 100_000
SHORT_SUMMARY_WORDS = 20

Render = Callable[[IssueView], str]


_HIGH_BYTES = bytes(range(128, 256))


def size(html: str) -> int:
    return len(html.encode("utf-8"))


def carried_size(html: str) -> int:
    """The bytes of `html` in the message (UTF-8, quoted-printable), estimated from above.

    Why an estimate: the exact encoding costs ~1 ms per 50 KB in pure Python, on every
    render; this counts in C what quoted-printable escapes (bytes above 127 and "=", three
    bytes each), the line ends (CRLF) and a soft break every 73 characters at worst.
    """
    data = html.encode("utf-8")
    escaped = len(data) - len(data.translate(None, _HIGH_BYTES)) + data.count(b"=")
    unbroken = len(data) + 2 * escaped + data.count(b"\n")
    return unbroken + 3 * (unbroken // 73)


def _droppable(view: IssueView) -> list[SectionView]:
    return [*view.sections, *([view.agenda] if view.agenda else [])]


def drop_items(view: IssueView, count: int, words: Messages) -> IssueView:
    """`view` without `count` items, taken from the end of the largest sections, and a note
    (in `words`) that says how many the web page adds."""
    lengths = [len(s.items) for s in _droppable(view)]
    for _ in range(min(count, sum(lengths))):
        # The largest section loses one; on a tie, the one further down the email.
        largest = max(range(len(lengths)), key=lambda i: (lengths[i], i))
        lengths[largest] -= 1
    kept = [replace(s, items=s.items[:n]) for s, n in zip(_droppable(view), lengths, strict=True)]
    sections = tuple(s for s in kept[: len(view.sections)] if s.items)
    agenda = kept[-1] if view.agenda and kept[-1].items else None
    trimmed = view.trimmed + min(count, sum(len(s.items) for s in _droppable(view)))
    if is_plural(words.language, trimmed):
        note = say(words, "email.trimmed_many", count=trimmed)
    else:
        note = say(words, "email.trimmed_one", count=trimmed)
    return replace(view, sections=sections, agenda=agenda, trimmed=trimmed, trimmed_note=note)


def fit(
    view: IssueView, render: Render, words: Messages, limit: int = MAX_HTML_BYTES
) -> tuple[IssueView, str]:
    """The view actually sent and its HTML, under `limit` bytes (see the module's rule)."""
    html = render(view)
    if carried_size(html) <= limit:
        return view, html
    view = replace(view, summary_words=min(view.summary_words, SHORT_SUMMARY_WORDS))
    html = render(view)
    if carried_size(html) <= limit:
        return view, html
    return _drop_until_fits(view, html, render, words, limit)


def _drop_until_fits(
    view: IssueView, html: str, render: Render, words: Messages, limit: int
) -> tuple[IssueView, str]:
    total = sum(len(s.items) for s in _droppable(view))
    floor = carried_size(render(drop_items(view, total, words)))
    if floor > limit:
        raise RenderError(
            t("render.too_large", size=floor, limit=limit), hint=t("render.too_large_hint")
        )
    # Items cost about the same: estimate how many to drop, then adjust by re-rendering.
    per_item = max(1.0, (carried_size(html) - floor) / total)
    count = math.ceil((carried_size(html) - limit) / per_item)
    while True:
        trimmed = drop_items(view, count, words)
        html = render(trimmed)
        if carried_size(html) <= limit:
            return trimmed, html
        count += max(1, math.ceil((carried_size(html) - limit) / per_item))
