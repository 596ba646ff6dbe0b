"""SQLite failures of the store file turned into a StoreError with a hint: the one place.

Every connection the store opens is a `GuardedConnection`: a statement, or reading its rows,
that fails because of the file (read-only, damaged, missing folder, full or failing disk,
held locked too long) raises StoreError, which the CLI prints as a message and a hint
(exit 1), in the staff language (the catalogue's store.* messages). Failures of our own SQL
(IntegrityError, ProgrammingError) are left as they are: callers rely on them (a duplicate
address is an IntegrityError) and a bug must show as one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from ..errors import StoreError, StoreLocked
from ..i18n import t

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM = 3, 5, 6, 7
SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL = 8, 10, 11, 13
SQLITE_CANTOPEN, SQLITE_NOTADB = 14, 26


FAULTS = {
    SQLITE_PERM,
    SQLITE_BUSY,
    SQLITE_LOCKED,
    SQLITE_NOMEM,
    SQLITE_READONLY,
    SQLITE_IOERR,
    SQLITE_CORRUPT,
    SQLITE_FULL,
    SQLITE_CANTOPEN,
    SQLITE_NOTADB,
}


def is_fault(exc: BaseException) -> bool:
    """Whether `exc` is about the store file or its disk, not about the statement run (a
    syntax error or a missing table is SQLITE_ERROR: a bug, left to show as one)."""
    return isinstance(exc, sqlite3.Error) and _code(exc) in FAULTS


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def store_error(path: Path, exc: sqlite3.Error | OSError) -> StoreError:
    """What to tell a person about `exc`, raised by the store at `path` (staff language)."""
    if isinstance(exc, OSError):  # creating the folder or the lock beside the store
        error = exc.strerror or exc
        return StoreError(t("store.beside", path=path, error=error), hint=_folder_hint(path))
    code, detail = _code(exc), str(exc)
    if code in (SQLITE_READONLY, SQLITE_PERM):
        return StoreError(t("store.read_only", path=path, detail=detail), hint=_folder_hint(path))
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreError(
            t("store.damaged", path=path, detail=detail), hint=t("store.damaged_hint")
        )
    if code == SQLITE_CANTOPEN:
        return StoreError(
            t("store.cannot_open", path=path, detail=detail),
            hint=t("store.cannot_open_hint", folder_hint=_folder_hint(path)),
        )
    if code == SQLITE_FULL:
        return StoreError(t("store.full", path=path, detail=detail), hint=t("store.full_hint"))
    if code == SQLITE_IOERR:
        return StoreError(
            t("store.disk_failed", path=path, detail=detail), hint=t("store.disk_failed_hint")
        )
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return StoreLocked(t("store.locked", path=path, detail=detail), hint=t("store.locked_hint"))
    return StoreError(t("store.failed", path=path, detail=detail), hint=_folder_hint(path))


def _folder_hint(path: Path) -> str:
    return t("store.folder_hint", name=path.name, folder=path.parent)


@contextmanager
def guarded(path: Path) -> Iterator[None]:
    """Inside: a fault of the store file at `path` is raised as StoreError, from it."""
    try:
        yield
    except sqlite3.Error as exc:
        if is_fault(exc):
            raise store_error(path, exc) from exc
        raise


class GuardedCursor(sqlite3.Cursor):
    """A cursor whose faults of the store file are StoreError, reading rows included (a
    damaged page may only show when a scan reaches it)."""

    store_path: Path = Path("digest.db")

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        with guarded(self.store_path):
            return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Self:
        with guarded(self.store_path):
            return super().executemany(sql, seq_of_parameters)

    def fetchone(self) -> Any:
        with guarded(self.store_path):
            return super().fetchone()

    def fetchmany(self, size: int | None = None) -> list[Any]:
        with guarded(self.store_path):
            return super().fetchmany(self.arraysize if size is None else size)

    def fetchall(self) -> list[Any]:
        with guarded(self.store_path):
            return super().fetchall()

    def __next__(self) -> Any:
        with guarded(self.store_path):
            return super().__next__()


class GuardedConnection(sqlite3.Connection):
    """The store's connection: `execute` and `executemany` run on a GuardedCursor (the store
    asks for no other cursor)."""

    store_path: Path = Path("digest.db")

    def execute(self, sql: str, parameters: Any = (), /) -> GuardedCursor:
        return self._guarded_cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> GuardedCursor:
        return self._guarded_cursor().executemany(sql, seq_of_parameters)

    def _guarded_cursor(self) -> GuardedCursor:
        cursor = self.cursor(GuardedCursor)
        cursor.store_path = self.store_path
        return cursor
