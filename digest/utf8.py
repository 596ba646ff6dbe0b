"""Files staff save (feeds.yaml, overrides, recaps, CSV lists) are read as strict UTF-8.

A file saved otherwise is not guessed at: `decode` says where it stops being UTF-8 (line,
column, byte, and which letter that byte is in Windows-1252, what French Windows saves), or
that it was saved as UTF-16, so that the person can save it again as UTF-8.
"""

from __future__ import annotations

SAVE_AS_UTF8 = "save the file as UTF-8 (in most editors: Save as, Encoding: UTF-8)"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class NotUtf8(ValueError):
    """Bytes that are not UTF-8 text: `line` (from 1) and `detail` say where and why."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail


def decode(raw: bytes) -> str:
    """`raw` as text: UTF-8, with or without a BOM; NotUtf8 if it is not UTF-8 text.

    A NUL byte is refused too: UTF-8 text has none, and UTF-16 without a BOM is mostly
    ASCII letters between NUL bytes, which would otherwise decode as "valid" garbage.
    """
    if raw.startswith(_UTF16_BOMS):
        raise NotUtf8(1, "not UTF-8: the file is saved as UTF-16 (Unicode)")
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise NotUtf8(line, "not UTF-8 text: it holds NUL bytes (saved as UTF-16?)")
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
    guess = f", « {letter} » in Windows-1252" if letter.isprintable() and letter != "\ufffd" else ""
    return line, f"not UTF-8 (byte 0x{byte:02x} at column {column}{guess})"
