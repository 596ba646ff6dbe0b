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
from typing import Any

from .errors import StoreError
from .subscribers import ConsentRecord, Subscriber

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
    # Subscribers, their consent log and the delivery outbox. An erased subscriber keeps its
    # row (status 'erased', no address, no name) so that its id, which old unsubscribe links
    # carry, is never given to someone else.
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        language TEXT NOT NULL DEFAULT 'fr',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        confirmed_at TEXT,
        unsubscribed_at TEXT,
        CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced', 'erased'))
    );
    CREATE INDEX subscribers_status ON subscribers (status);
    CREATE TABLE consent_log (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        event TEXT NOT NULL,
        at TEXT NOT NULL,
        source TEXT NOT NULL,
        ip TEXT,
        email_hash TEXT
    );
    CREATE INDEX consent_log_subscriber ON consent_log (subscriber_id);
    CREATE TABLE outbox (
        issue_id TEXT NOT NULL REFERENCES issues (id),
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        status TEXT NOT NULL DEFAULT 'pending',
        message_id TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (issue_id, subscriber_id),
        CHECK (status IN ('pending', 'sending', 'sent', 'deferred', 'failed'))
    );
    CREATE INDEX outbox_due ON outbox (issue_id, status, next_attempt_at)
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

    # -- subscribers -------------------------------------------------------------------
    # Written for digest.subscribers, which holds the rules; these only read and write.

    _SUBSCRIBER_COLUMNS = (
        "id, email, name, status, language, created_at, updated_at, confirmed_at, unsubscribed_at"
    )

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self.db.execute(
            f"SELECT {self._SUBSCRIBER_COLUMNS} FROM subscribers"
            " WHERE id = ? AND status <> 'erased'",
            (subscriber_id,),
        ).fetchone()
        return _subscriber(row) if row else None

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        row = self.db.execute(
            f"SELECT {self._SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = ?", (email,)
        ).fetchone()
        return _subscriber(row) if row else None

    def subscribers(self, status: str | None = None) -> list[Subscriber]:
        """Every subscriber (erased ones excepted), or those with `status`, by address."""
        where, args = ("status = ?", (status,)) if status else ("status <> 'erased'", ())
        rows = self.db.execute(
            f"SELECT {self._SUBSCRIBER_COLUMNS} FROM subscribers WHERE {where} ORDER BY email",
            args,
        ).fetchall()
        return [_subscriber(row) for row in rows]

    def create_subscriber(
        self,
        email: str,
        name: str,
        status: str,
        language: str,
        now: datetime,
        *,
        event: str,
        source: str,
        ip: str | None = None,
    ) -> int | None:
        """Insert a subscriber and its first consent event; None if the address exists."""
        when = now.isoformat()
        confirmed = when if status == "confirmed" else None
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    "INSERT INTO subscribers (email, name, status, language, created_at,"
                    " updated_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (email, name, status, language, when, when, confirmed),
                )
                new_id = int(cursor.lastrowid or 0)
                self._log_consent(new_id, event, when, source, ip)
        except sqlite3.IntegrityError:
            return None
        return new_id

    def change_status(
        self,
        subscriber_id: int,
        status: str,
        allowed_from: tuple[str, ...],
        now: datetime,
        *,
        event: str,
        source: str,
        ip: str | None = None,
    ) -> bool:
        """Move to `status` only from one of `allowed_from` (atomic); log it. True if moved."""
        when = now.isoformat()
        stamp = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}.get(status)
        extra = f", {stamp} = ?" if stamp else ""
        marks = ",".join("?" * len(allowed_from))
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE subscribers SET status = ?, updated_at = ?{extra}"
                f" WHERE id = ? AND status IN ({marks})",
                (status, when, *([when] if stamp else []), subscriber_id, *allowed_from),
            )
            if cursor.rowcount:
                self._log_consent(subscriber_id, event, when, source, ip)
        return bool(cursor.rowcount)

    def consent_log(self, subscriber_id: int) -> list[ConsentRecord]:
        rows = self.db.execute(
            "SELECT subscriber_id, event, at, source, ip, email_hash FROM consent_log"
            " WHERE subscriber_id = ? ORDER BY id",
            (subscriber_id,),
        ).fetchall()
        return [ConsentRecord(r[0], r[1], _when(r[2]), r[3], r[4], r[5]) for r in rows]

    def erase_subscriber(
        self, subscriber_id: int, email_hash: str, now: datetime, *, source: str
    ) -> None:
        """Drop the address, name and IPs; keep the row (its id) and an 'erase' record."""
        when = now.isoformat()
        with self.transaction() as db:
            db.execute(
                "UPDATE subscribers SET email = NULL, name = '', status = 'erased',"
                " updated_at = ? WHERE id = ?",
                (when, subscriber_id),
            )
            db.execute("UPDATE consent_log SET ip = NULL WHERE subscriber_id = ?", (subscriber_id,))
            db.execute(
                "INSERT INTO consent_log (subscriber_id, event, at, source, email_hash)"
                " VALUES (?, 'erase', ?, ?, ?)",
                (subscriber_id, when, source, email_hash),
            )

    def _log_consent(
        self, subscriber_id: int, event: str, when: str, source: str, ip: str | None
    ) -> None:
        self.db.execute(
            "INSERT INTO consent_log (subscriber_id, event, at, source, ip) VALUES (?, ?, ?, ?, ?)",
            (subscriber_id, event, when, source, ip),
        )

    def sent_issues(self, limit: int | None = None, content: bool = True) -> list[StoredIssue]:
        """Issues with status 'sent' (the archives), newest first.

        With content=False, data/html/text/web come back empty: a listing need not read
        hundreds of kilobytes per issue.
        """
        columns = "data, html, text, web" if content else "'', '', '', ''"
        rows = self.db.execute(
            f"SELECT id, period_start, period_end, built_at, {columns}, status"
            " FROM issues WHERE status = 'sent' ORDER BY id DESC" + (" LIMIT ?" if limit else ""),
            (limit,) if limit else (),
        ).fetchall()
        return [StoredIssue(r[0], _when(r[1]), _when(r[2]), _when(r[3]), *r[4:]) for r in rows]

    def set_issue_status(self, issue_id: str, status: str) -> None:
        with self.transaction() as db:
            cursor = db.execute("UPDATE issues SET status = ? WHERE id = ?", (status, issue_id))
        if not cursor.rowcount:
            raise StoreError(f"no issue {issue_id} in the store", hint="build it first")

    # -- /subscribers ------------------------------------------------------------------


def _subscriber(row: tuple[Any, ...]) -> Subscriber:
    optional = [_when(v) if v else None for v in row[7:9]]
    return Subscriber(
        row[0], row[1], row[2], row[3], row[4], _when(row[5]), _when(row[6]), *optional
    )


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)
