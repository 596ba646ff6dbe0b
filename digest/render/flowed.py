"""The text part as `format=flowed` (RFC 3676): lines folded for old readers, joined again
by the mail apps that know the format (most phones), so paragraphs never look ragged.

The template writes each paragraph on one line; `flowed` folds a line longer than
FLOWED_WIDTH at spaces, each folded line ending with a space (a soft break, which a reader
removes when it joins the lines), strips trailing spaces from the other lines (they would
read as soft breaks) and space-stuffs lines that start with a space, ">" or "From ". Only
ASCII spaces break a line, so French no-break spaces hold, and a word longer than a line
(a URL) is left whole. delivery/message.py labels the part `format=flowed`.
"""

from __future__ import annotations

import re
from functools import lru_cache

FLOWED_WIDTH = 72  # RFC 3676 asks for 78 at most, and recommends 66 to 72


def flowed(text: str, width: int = FLOWED_WIDTH) -> str:
    """`text` (one line per paragraph) as format=flowed lines of `width` at most (soft
    break included; a word longer than that stays whole)."""
    return "\n".join(_fold(line.rstrip(" "), width) for line in text.split("\n"))


def _fold(line: str, width: int) -> str:
    """One paragraph: its folded lines, each soft break kept as the line's last space."""
    if len(line) <= width:
        return _stuffed(line)
    return "\n".join(map(_stuffed, _chunks(width).findall(line)))


@lru_cache(maxsize=4)
def _chunks(width: int) -> re.Pattern[str]:
    """A folded line: as much as fits before a space (kept: the soft break), else a word
    too long for any line with its space, else a lone space (two in a row at a fold)."""
    return re.compile(f".{{1,{width - 1}}}(?: |$)|[^ ]+ ?| ")


def _stuffed(line: str) -> str:
    """RFC 3676 §4.4: a line starting with a space, ">" or "From " gets one more space."""
    return " " + line if line.startswith((" ", ">", "From ")) else line
