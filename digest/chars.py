"""Characters that must not reach a reader: controls, format characters, odd line breaks."""

from __future__ import annotations

import re
import unicodedata

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
