"""Characters and encodings: what must not reach a reader (controls, format characters, odd
line breaks), and the strict UTF-8 reading of the files staff save.

Files staff save (feeds.yaml, overrides, recaps, CSV lists) are read as strict UTF-8. A file
saved otherwise is not guessed at: `decode` says where it stops being UTF-8 (line, column,
byte, and which letter that byte is in Windows-1252, what French Windows saves), or that it
was saved as UTF-16, so that the person can save it again as UTF-8. What it says is staff
output, in the staff language (the catalogue's utf8.* messages).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .i18n import t

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


# -- strict UTF-8 for the files staff save ------------------------------------------------

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def save_as_utf8() -> str:
    """The hint that goes with NotUtf8: how to save the file again as UTF-8."""
    return t("utf8.save_as_hint")


class NotUtf8(ValueError):
    """Bytes that are not UTF-8 text: `line` (from 1) and `detail` say where and why."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(t("utf8.line", line=line, detail=detail))
        self.line = line
        self.detail = detail


def decode(raw: bytes) -> str:
    """`raw` as text: UTF-8, with or without a BOM; NotUtf8 if it is not UTF-8 text.

    A NUL byte is refused too: UTF-8 text has none, and UTF-16 without a BOM is mostly
    ASCII letters between NUL bytes, which would otherwise decode as "valid" garbage.
    """
    if raw.startswith(_UTF16_BOMS):
        raise NotUtf8(1, t("utf8.utf16"))
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise NotUtf8(line, t("utf8.nul"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8(*_where(raw, exc.start)) from exc


def _where(raw: bytes, start: int) -> tuple[int, str]:
    """The line of byte `start`, and what it is: its value, column and Windows-1252 letter."""
    line_start = raw.rfind(b"\n", 0, start) + 1
    line = raw[:start].count(b"\n") + 1
    column = len(raw[line_start:start].decode("utf-8", "replace")) + 1
    byte = raw[start]
    letter = bytes([byte]).decode("cp1252", "replace")
    shown = f"0x{byte:02x}"
    if letter.isprintable() and letter != "\ufffd":
        return line, t("utf8.byte_letter", byte=shown, column=column, letter=letter)
    return line, t("utf8.byte", byte=shown, column=column)


# Apostrophes as French is typed, and the combining marks NFKD splits off accented letters.
_APOSTROPHES = re.compile("[’ʼ‘`´]")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


@lru_cache(maxsize=1 << 16)  # select and themes both read every title: folded once
def fold(text: str) -> str:
    """Lower-cased, accents and ligatures removed, apostrophes made plain: what titles and
    keywords are matched on ("Réseau d’Écoles" and "reseau d'ecoles" meet)."""
    # str.translate with a table walks every character in Python-level lookups; a regex
    # and two replaces do the same in C, which matters at 10,000 items a build.
    text = unicodedata.normalize("NFKD", _APOSTROPHES.sub("'", text)).casefold()
    return _COMBINING.sub("", text).replace("œ", "oe").replace("æ", "ae")
