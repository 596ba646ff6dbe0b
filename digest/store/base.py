"""The connection to the store file: pragmas, transactions and migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Self

from ..errors import StoreError
from .schema import MIGRATIONS


class StoreBase:
    """A connection to the store file. Use as a context manager, or call close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the store {path}: {exc}",
                hint="check that the folder is writable and the file is a digest store",
            ) from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (the COMMIT's own
        included). A write the disk refuses (full, I/O error) is a StoreError with a hint."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # SQLite may have rolled back already
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if _disk_error(exc):
                raise StoreError(
                    f"cannot write to the store {self.path}: {exc}",
                    hint="free some space on the disk that holds it, then run the command"
                    " again (nothing half-written was kept)",
                ) from exc
            raise

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer digest (schema {version})",
                hint="upgrade digest, or point `store:` at another file",
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])


# SQLITE_FULL, SQLITE_IOERR (and its extended codes, same low byte): the disk said no.
_DISK_ERRORS = frozenset((13, 10))


def _disk_error(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DISK_ERRORS


def when(text: str) -> datetime:
    """A timestamp as stored (ISO 8601 with its offset)."""
    return datetime.fromisoformat(text)
