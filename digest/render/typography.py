"""French typography on text only: no-break spaces before ; ! ? : and inside « ».

Only French text gets it (`is_french`): an item's own language decides for its title and
summary, the newsletter's language for the rest (see render.view).

`typo_text` takes plain text (before escaping); `typo_html` takes sanitized HTML and
changes only the text between tags, so attributes and URLs are never touched. URLs are
never passed here: the templates print them as they are.
"""

from __future__ import annotations

import html
import re

NNBSP = "\u202f"  # narrow no-break space: before ; ! ?
NBSP = "\u00a0"  # no-break space: before : and inside « »

_SPACE = "[ \t\u00a0\u202f]"
# A space (or none after a word) before ; ! ? followed by a space or the end. Requiring
# the space after keeps "10:30", "http://", "?id=3" and "&amp;" intact.
_TALL_SPACED = re.compile(rf"{_SPACE}+([;!?]+)")
_TALL_GLUED = re.compile(r"(?<=[\w»)\]…])([;!?]+)(?=\s|$)")
_COLON_SPACED = re.compile(rf"{_SPACE}+:")
_COLON_GLUED = re.compile(r"(?<=[\w»)\]])(:)(?=\s|$)")
_OPEN_QUOTE = re.compile(rf"«{_SPACE}*")
_CLOSE_QUOTE = re.compile(rf"{_SPACE}*»")
# A tag, with quoted attribute values that may hold '>' themselves.
_TAG = re.compile(r"(<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)")
_NEEDS_WORK = re.compile(r"[;!?:«»]")


def typo_text(text: str) -> str:
    """`text` with French no-break spaces; text without such punctuation is returned as is."""
    # Each rule runs only when its punctuation is there: most text has little of it.
    if ";" in text or "!" in text or "?" in text:
        text = _TALL_GLUED.sub(NNBSP + r"\1", _TALL_SPACED.sub(NNBSP + r"\1", text))
    if ":" in text:
        text = _COLON_GLUED.sub(NBSP + ":", _COLON_SPACED.sub(NBSP + ":", text))
    if "«" in text:
        text = _OPEN_QUOTE.sub("«" + NBSP, text)
    if "»" in text:
        text = _CLOSE_QUOTE.sub(NBSP + "»", text)
    return text


def typo_html(fragment: str) -> str:
    """Sanitized HTML with `typo_text` applied to its text nodes only."""
    if not _NEEDS_WORK.search(fragment):
        return fragment
    parts = _TAG.split(fragment)
    # split() with one group alternates text, tag, text, ...: even indexes are text.
    for index in range(0, len(parts), 2):
        if _NEEDS_WORK.search(parts[index]):
            parts[index] = html.escape(typo_text(html.unescape(parts[index])), quote=False)
    return "".join(parts)


def is_french(language: str | None) -> bool:
    """True for `fr` and its regional tags (`fr-fr`, `fr-CA`...)."""
    return language is not None and language.split("-")[0].lower() == "fr"
