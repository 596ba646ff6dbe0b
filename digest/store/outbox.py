"""Queries for the delivery outbox: one row per (issue, subscriber), the audience of an issue.

A row moves pending → sending → sent | deferred | failed. `freeze_audience` creates every
row of an issue in one transaction (and never again); `claim` marks a batch 'sending' in one
commit before any SMTP transaction; `record` writes a batch's results in one commit after
the replies. The rules (back-off, what a reply means) live in digest.delivery.deliver.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import StoreError
from ..i18n import t
from .base import StoreBase, moment
from .people import ERASED

# The error text to keep: none for a subscriber erased meanwhile (a reply that arrives after
# the erasure, or a late bounce report, quotes the address that erasure removed).
_ERROR_UNLESS_ERASED = (
    "CASE WHEN (SELECT status FROM subscribers WHERE id = outbox.subscriber_id) = 'erased'"
    " THEN NULL ELSE COALESCE(?, last_error) END"
)
ACTIVE = ("pending", "sending", "deferred")  # an issue with such rows is not yet 'sent'
FETCH = 1000  # rows read at a time: memory does not grow with the list


@dataclass(frozen=True)
class OutboxRow:
    """One message to send: who, and the Message-ID fixed when the row was created."""

    subscriber_id: int
    email: str
    message_id: str
    attempts: int
    created_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row."""

    subscriber_id: int
    status: str  # pending (not tried), sent, deferred, failed
    error: str | None = None
    next_attempt_at: datetime | None = None
    bounced: bool = False
    tried: bool = True


@dataclass(frozen=True)
class Problem:
    """A row that did not go out (yet): for `digest report`."""

    email: str
    status: str
    attempts: int
    last_error: str
    bounced: bool
    updated_at: str


class OutboxQueries(StoreBase):
    """The outbox of each issue."""

    def durable(self) -> None:
        """Fsync every commit: a row marked 'sent' stays sent through a power cut."""
        self.db.execute("PRAGMA synchronous=FULL")

    def make_room(self) -> bool:
        """After a write the disk refused: copy the write-ahead log into the store file and
        empty it, which gives back the space the log held (on a full disk, often enough for
        a few rows more). False if even that failed."""
        try:
            busy = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except (sqlite3.Error, StoreError):  # a connection may report faults as StoreError
            return False
        return not (busy and busy[0])

    def set_issue_subject(self, issue_id: str, subject: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE issues SET subject = ? WHERE id = ?", (subject, issue_id))

    def issue_subject(self, issue_id: str) -> str:
        row = self.db.execute("SELECT subject FROM issues WHERE id = ?", (issue_id,)).fetchone()
        return str(row[0]) if row else ""

    def freeze_audience(self, issue_id: str, domain: str, now: datetime) -> int:
        """Create one pending row per confirmed subscriber not paused at `now` and mark the
        issue 'sending'.

        One transaction, so the audience is all or nothing; later calls add no row (a new
        subscriber gets the next issue). Returns the audience size.
        """
        when = now.isoformat()
        with self.transaction() as db:
            status = db.execute("SELECT status FROM issues WHERE id = ?", (issue_id,)).fetchone()
            if status is None:
                raise StoreError(t("store.no_issue", issue=issue_id), hint=t("store.no_issue_hint"))
            if status[0] not in ("sending", "sent"):  # built, approved, or skipped and forced
                # A reader who paused is left out until the pause ends (people.pause).
                reader = db.execute(
                    "SELECT id FROM subscribers WHERE status = 'confirmed'"
                    " AND (paused_until IS NULL OR paused_until <= ?) ORDER BY id",
                    (moment(now),),
                )
                while chunk := reader.fetchmany(FETCH):
                    db.executemany(
                        "INSERT INTO outbox (issue_id, subscriber_id, status, message_id,"
                        " updated_at, created_at) VALUES (?, ?, 'pending', ?, ?, ?)",
                        [
                            (issue_id, i, _message_id(issue_id, i, domain), when, when)
                            for (i,) in chunk
                        ],
                    )
                db.execute("UPDATE issues SET status = 'sending' WHERE id = ?", (issue_id,))
        return self.audience(issue_id)

    def audience(self, issue_id: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM outbox WHERE issue_id = ?", (issue_id,))
        return int(row.fetchone()[0])

    def release_in_flight(self, issue_id: str, now: datetime) -> int:
        """Rows a dead run left in 'sending' go back to 'pending' (same Message-ID).

        Only safe under the run lock: then no other process is sending them.
        """
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET status = 'pending', updated_at = ?"
                " WHERE issue_id = ? AND status = 'sending'",
                (now.isoformat(), issue_id),
            )
        return int(cursor.rowcount)

    def expire_deferred(self, issue_id: str, created_before: datetime, now: datetime) -> int:
        """Deferred rows created before the retry deadline are given up: 'failed'."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET status = 'failed', updated_at = ?,"
                " last_error = 'gave up after the retry deadline: ' || COALESCE(last_error, '')"
                " WHERE issue_id = ? AND status = 'deferred' AND created_at < ?",
                (now.isoformat(), issue_id, created_before.isoformat()),
            )
        return int(cursor.rowcount)

    _CLAIM = (
        "SELECT o.subscriber_id, s.email, o.message_id, o.attempts, o.created_at, s.status"
        " FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id WHERE o.issue_id = ?"
    )

    def claim(self, issue_id: str, now: datetime, limit: int) -> list[OutboxRow]:
        """Mark up to `limit` due rows 'sending' (one commit) and return them; [] when none
        is due. Due: pending, or deferred with next_attempt_at reached. A row whose
        subscriber left meanwhile (unsubscribed, bounced, erased) is not sent: 'failed'.
        """
        when = now.isoformat()
        with self.transaction() as db:
            while rows := self._due(issue_id, when, limit):
                gone = [(when, issue_id, r[0]) for r in rows if r[5] != "confirmed" or not r[1]]
                db.executemany(
                    "UPDATE outbox SET status = 'failed', updated_at = ?,"
                    " last_error = 'not sent: the subscriber left before delivery'"
                    " WHERE issue_id = ? AND subscriber_id = ?",
                    gone,
                )
                claimed = [r for r in rows if r[5] == "confirmed" and r[1]]
                if claimed:  # else a whole batch had left: look further
                    break
            else:
                return []
            db.executemany(
                "UPDATE outbox SET status = 'sending', updated_at = ?"
                " WHERE issue_id = ? AND subscriber_id = ?",
                [(when, issue_id, r[0]) for r in claimed],
            )
        return [OutboxRow(r[0], r[1], r[2], r[3], _optional(r[4])) for r in claimed]

    def _due(self, issue_id: str, when: str, limit: int) -> list[tuple[Any, ...]]:
        """Two range scans of the outbox_due index, no sort: a claim costs the same at the
        end of a list of 100,000 as at its start."""
        rows: list[tuple[Any, ...]] = self.db.execute(
            self._CLAIM + " AND o.status = 'pending' LIMIT ?", (issue_id, limit)
        ).fetchall()
        if len(rows) < limit:
            rows += self.db.execute(
                self._CLAIM + " AND o.status = 'deferred' AND o.next_attempt_at <= ?"
                " ORDER BY o.next_attempt_at LIMIT ?",
                (issue_id, when, limit - len(rows)),
            ).fetchall()
        return rows

    def record(self, issue_id: str, outcomes: Iterable[Outcome], now: datetime) -> None:
        """Write the results of a batch in one commit."""
        when = now.isoformat()
        values = [
            (
                o.status,
                int(o.tried),
                o.next_attempt_at.isoformat() if o.next_attempt_at else None,
                o.error,
                int(o.bounced),
                when,
                issue_id,
                o.subscriber_id,
            )
            for o in outcomes
        ]
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET status = ?, attempts = attempts + ?, next_attempt_at = ?,"
                f" last_error = {_ERROR_UNLESS_ERASED}, bounced = ?, updated_at = ?"
                " WHERE issue_id = ? AND subscriber_id = ?",
                values,
            )

    def next_retry(self, issue_id: str) -> datetime | None:
        """When the earliest deferred row of the issue is due."""
        row = self.db.execute(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE issue_id = ? AND status = 'deferred'",
            (issue_id,),
        ).fetchone()
        return _optional(row[0])

    def outbox_counts(self, issue_id: str) -> dict[str, int]:
        """Rows by status, plus 'bounced' (failed rows whose address was suppressed)."""
        counts = dict.fromkeys(("pending", "sending", "sent", "deferred", "failed", "bounced"), 0)
        for status, bounced, count in self.db.execute(
            "SELECT status, bounced, COUNT(*) FROM outbox WHERE issue_id = ?"
            " GROUP BY status, bounced",
            (issue_id,),
        ):
            counts[status] += count
            if bounced:
                counts["bounced"] += count
        return counts

    def finish_issue(self, issue_id: str) -> bool:
        """Mark the issue 'sent' when no row is left to try; True if it is (now) sent."""
        marks = ",".join("?" * len(ACTIVE))
        with self.transaction() as db:
            db.execute(
                "UPDATE issues SET status = 'sent' WHERE id = ? AND status = 'sending' AND NOT"
                f" EXISTS (SELECT 1 FROM outbox WHERE issue_id = ? AND status IN ({marks}))",
                (issue_id, issue_id, *ACTIVE),
            )
            row = db.execute("SELECT status FROM issues WHERE id = ?", (issue_id,)).fetchone()
        return bool(row and row[0] == "sent")

    def problems(self, issue_id: str) -> Iterator[Problem]:
        """Deferred, failed and bounced rows with their last error, by address (streamed)."""
        cursor = self.db.execute(
            "SELECT COALESCE(s.email, ?), o.status, o.attempts,"
            " COALESCE(o.last_error, ''), o.bounced, o.updated_at"
            " FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id"
            " WHERE o.issue_id = ? AND o.status IN ('deferred', 'failed')"
            " ORDER BY o.status, s.email",
            (ERASED, issue_id),
        )
        while chunk := cursor.fetchmany(FETCH):
            for r in chunk:
                yield Problem(r[0], r[1], r[2], r[3], bool(r[4]), r[5])

    def recipients_preview(self, issue_id: str, limit: int, now: datetime) -> tuple[int, list[str]]:
        """Who a send would reach now: the count and the first `limit` addresses.

        Before sending starts, the confirmed subscribers not paused at `now` (as
        freeze_audience takes them); after, the rows still to try.
        """
        if self.audience(issue_id):
            where = (
                "JOIN outbox o ON o.subscriber_id = s.id WHERE o.issue_id = ?"
                " AND o.status IN ('pending', 'sending', 'deferred') AND s.status = 'confirmed'"
            )
            args: tuple[str, ...] = (issue_id,)
        else:
            where = (
                "WHERE s.status = 'confirmed' AND (s.paused_until IS NULL OR s.paused_until <= ?)"
            )
            args = (moment(now),)
        count = self.db.execute(f"SELECT COUNT(*) FROM subscribers s {where}", args).fetchone()
        first = self.db.execute(
            f"SELECT s.email FROM subscribers s {where} ORDER BY s.id LIMIT ?", (*args, limit)
        ).fetchall()
        return int(count[0]), [str(r[0]) for r in first]

    def sent_since(self, since: datetime) -> list[datetime]:
        """When each message sent since `since` (UTC) was recorded, every issue: so that a
        quota per hour holds across runs. As many rows as the quota allows, at most."""
        rows = self.db.execute(
            "SELECT updated_at FROM outbox WHERE status = 'sent' AND updated_at >= ?"
            " ORDER BY updated_at",
            (since.isoformat(),),
        )
        return [datetime.fromisoformat(r[0]) for r in rows]

    def outbox_message_id(self, issue_id: str, subscriber_id: int) -> str | None:
        """The Message-ID of what was sent to that subscriber for that issue, if anything."""
        row = self.db.execute(
            "SELECT message_id FROM outbox WHERE issue_id = ? AND subscriber_id = ?"
            " AND status IN ('sent', 'failed')",
            (issue_id, subscriber_id),
        ).fetchone()
        return str(row[0]) if row and row[0] else None

    def record_late_failure(
        self, issue_id: str, subscriber_id: int, error: str, bounced: bool, now: datetime
    ) -> None:
        """A message the server had accepted was not delivered after all (a DSN said so)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'failed',"
                f" last_error = {_ERROR_UNLESS_ERASED}, bounced = ?, updated_at = ?"
                " WHERE issue_id = ? AND subscriber_id = ? AND status IN ('sent', 'failed')",
                (error[:500], int(bounced), now.isoformat(), issue_id, subscriber_id),
            )


def _message_id(issue_id: str, subscriber_id: int, domain: str) -> str:
    """`<issue.subscriber.random@domain>`: fixed at row creation, reused by every retry."""
    return f"<{issue_id}.{subscriber_id}.{secrets.token_hex(6)}@{domain}>"


def _optional(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
