"""The SQLite store: the one module that speaks SQL.

It holds what must survive between runs: the fetch cache (ETag, Last-Modified and the last
body, so a 304 still yields the feed's items), when each item was first seen, which items
went out in which issue, and the issues as built. Migrations run on open; the SQL stays
portable (no SQLite-only syntax beyond the pragmas) so PostgreSQL can take over later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .errors import StoreError

# Append-only: each entry upgrades the schema by one version. Never edit a released one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE fetch_cache (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        body BLOB,
        fetched_at TEXT NOT NULL
    );
    CREATE TABLE item_seen (
        item_key TEXT PRIMARY KEY,
        first_seen TEXT NOT NULL
    );
    CREATE TABLE issues (
        id TEXT PRIMARY KEY,
        period_start TEXT NOT NULL,
        period_end TEXT NOT NULL,
        built_at TEXT NOT NULL,
        data TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        web TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'built'
    );
    CREATE TABLE sent_items (
        item_key TEXT NOT NULL,
        issue_id TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (item_key, issue_id)
    );
    """,
]


@dataclass(frozen=True)
class CachedFetch:
    """What the last successful fetch of a feed returned."""

    url: str
    etag: str | None
    last_modified: str | None
    body: bytes
    fetched_at: datetime


@dataclass(frozen=True)
class StoredIssue:
    id: str
    period_start: datetime
    period_end: datetime
    built_at: datetime
    data: str
    html: str
    text: str
    web: str
    status: str


class Store:
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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

    # -- fetch cache -------------------------------------------------------------------

    def cached_fetch(self, url: str) -> CachedFetch | None:
        row = self.db.execute(
            "SELECT url, etag, last_modified, body, fetched_at FROM fetch_cache WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        return CachedFetch(row[0], row[1], row[2], bytes(row[3] or b""), _when(row[4]))

    def remember_fetch(self, fetch: CachedFetch) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM fetch_cache WHERE url = ?", (fetch.url,))
            db.execute(
                "INSERT INTO fetch_cache (url, etag, last_modified, body, fetched_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    fetch.url,
                    fetch.etag,
                    fetch.last_modified,
                    fetch.body,
                    fetch.fetched_at.isoformat(),
                ),
            )

    # -- items -------------------------------------------------------------------------

    def first_seen(self, keys: Iterable[str], now: datetime) -> dict[str, datetime]:
        """When each key was first seen; keys never seen before are recorded as seen `now`."""
        keys = list(dict.fromkeys(keys))
        with self.transaction() as db:
            for key in keys:
                db.execute(
                    "INSERT INTO item_seen (item_key, first_seen) SELECT ?, ?"
                    " WHERE NOT EXISTS (SELECT 1 FROM item_seen WHERE item_key = ?)",
                    (key, now.isoformat(), key),
                )
            found = {
                k: _when(v) for k, v in self._select_in("item_key, first_seen", "item_seen", keys)
            }
        return found

    def sent_keys(self, keys: Iterable[str], except_issue: str | None = None) -> set[str]:
        """The keys among `keys` that went out in an issue other than `except_issue`."""
        rows = self._select_in("item_key, issue_id", "sent_items", list(keys))
        return {key for key, issue in rows if issue != except_issue}

    def mark_sent(self, issue_id: str, keys: Iterable[str], when: datetime) -> None:
        with self.transaction() as db:
            for key in dict.fromkeys(keys):
                db.execute(
                    "INSERT INTO sent_items (item_key, issue_id, sent_at) SELECT ?, ?, ?"
                    " WHERE NOT EXISTS"
                    " (SELECT 1 FROM sent_items WHERE item_key = ? AND issue_id = ?)",
                    (key, issue_id, when.isoformat(), key, issue_id),
                )

    def _select_in(self, columns: str, table: str, keys: list[str]) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.db.execute(
                f"SELECT {columns} FROM {table} WHERE item_key IN ({marks})", chunk
            ).fetchall()
        return rows

    # -- issues ------------------------------------------------------------------------

    def save_issue(self, issue: StoredIssue) -> None:
        """Store (or replace, while not yet sent) what `digest build` produced."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM issues WHERE id = ?", (issue.id,)).fetchone()
            if row and row[0] not in ("built", "approved"):
                raise StoreError(
                    f"issue {issue.id} is already {row[0]}: it is not rebuilt in the store",
                    hint="build with --out only, or choose another week",
                )
            db.execute("DELETE FROM issues WHERE id = ?", (issue.id,))
            db.execute(
                "INSERT INTO issues (id, period_start, period_end, built_at, data, html, text,"
                " web, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'built')",
                (
                    issue.id,
                    issue.period_start.isoformat(),
                    issue.period_end.isoformat(),
                    issue.built_at.isoformat(),
                    issue.data,
                    issue.html,
                    issue.text,
                    issue.web,
                ),
            )

    def issue(self, issue_id: str) -> StoredIssue | None:
        row = self.db.execute(
            "SELECT id, period_start, period_end, built_at, data, html, text, web, status"
            " FROM issues WHERE id = ?",
            (issue_id,),
        ).fetchone()
        if row is None:
            return None
        return StoredIssue(row[0], _when(row[1]), _when(row[2]), _when(row[3]), *row[4:])


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)
