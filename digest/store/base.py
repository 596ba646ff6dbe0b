"""The connection to the store file: pragmas, transactions and migrations.

Faults of the file (read-only, damaged, unreachable, full disk) come out of every statement
as StoreError with a hint: the connection is a faults.GuardedConnection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from ..errors import StoreError
from ..i18n import t
from .faults import GuardedConnection, guarded, store_error
from .schema import MIGRATIONS


class StoreBase:
    """A connection to the store file. Use as a context manager, or call close()."""

    def __init__(
        self, path: Path, *, busy_timeout: float = 30.0, check_same_thread: bool = True
    ) -> None:
        """Open (and migrate) the store. `busy_timeout`: how long a write waits for a lock
        another connection holds before sqlite3.OperationalError (SQLITE_BUSY).
        `check_same_thread=False` lets a pool hand the connection from thread to thread (the
        pool sees that one thread at a time uses it)."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(path, exc) from exc
        with guarded(path):
            self.db = sqlite3.connect(
                path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=check_same_thread,
                factory=GuardedConnection,
            )
        self.db.store_path = path
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        Inside a transaction already open on this connection, it is a savepoint of it: what
        it did is undone on an exception, and the outer transaction commits the rest. So a
        caller can make several store calls one transaction."""
        if self.db.in_transaction:
            with self._savepoint():
                yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")  # inside: a COMMIT the disk refuses is rolled back too
        except BaseException:
            # SQLite has already rolled back after some faults (a full disk, a damaged page):
            # a ROLLBACK then fails, and must not hide the fault that is being raised.
            if self.db.in_transaction:
                with suppress(StoreError):
                    self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self.db.execute("SAVEPOINT inner")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO inner")
            self.db.execute("RELEASE inner")
            raise
        self.db.execute("RELEASE inner")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                t("store.newer", path=self.path, version=version), hint=t("store.newer_hint")
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def scrub(self) -> None:
        """Leave no copy of deleted data in the store's files (GDPR erasure).

        VACUUM rewrites the file without free pages or free space, where old versions of a
        row may linger (an SQLite built without secure_delete leaves them on UPDATE and
        DELETE); the WAL, which holds the pages of earlier commits, is then checkpointed and
        truncated to nothing. It costs a rewrite of the file: seconds, and free disk space
        the size of the store. StoreError if another process kept reading old pages for the
        whole busy timeout, so that the WAL could not be emptied.
        """
        self.db.execute("VACUUM")
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise StoreError(
                t("store.scrub_busy", path=self.path, wal=f"{self.path.name}-wal"),
                hint=t("store.scrub_busy_hint"),
            )

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])


def when(text: str) -> datetime:
    """A timestamp as stored (ISO 8601 with its offset)."""
    return datetime.fromisoformat(text)


def moment(instant: datetime) -> str:
    """An instant as a column compared as text stores it: UTC, to the second."""
    return instant.astimezone(UTC).isoformat(timespec="seconds")
