"""Queries for the delivery outbox: one row per (issue, subscriber), the audience of an issue.

A row moves pending → sending → sent | deferred | failed; a reader whose cut is too thin
that week is 'skipped' from the start. A row 'failed' because its temporary refusals outlasted
the retry deadline is marked `gave_up`: staff may put it back to 'pending' (`reopen_given_up`,
delivery/retry.py). `freeze_audience` creates every row of an issue in
one transaction (and never again), each with its cut (store/cuts.py); `claim` marks a batch
'sending' in one commit before any SMTP transaction; `record` writes a batch's results in
one commit after the replies. The rules (back-off, what a reply means) live in
digest.delivery.deliver.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
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
# The report's filters (`deliveries`): which rows each shows; None shows every row.
SHOWN = {
    "sent": "o.status = 'sent'",
    "waiting": "o.status IN ('pending', 'sending')",
    "deferred": "o.status = 'deferred'",
    "failed": "o.status = 'failed'",
    "bounced": "o.status = 'failed' AND o.bounced = 1",
    "gave_up": "o.status = 'failed' AND o.gave_up = 1",
    "skipped": "o.status = 'skipped'",
}
# Who an issue goes to, when its audience is frozen (a condition on `subscribers`, its one
# parameter the moment: `moment(now)`). The one place to say who is left out: a reader who
# paused (the preference centre) until after now; store/cuts.py counts the cuts with it.
AUDIENCE = "status = 'confirmed' AND (paused_until IS NULL OR paused_until <= ?)"
FETCH = 1000  # rows read at a time: memory does not grow with the list


@dataclass(frozen=True)
class OutboxRow:
    """One message to send: who, and the Message-ID fixed when the row was created."""

    subscriber_id: int
    email: str
    message_id: str
    attempts: int
    created_at: datetime | None
    cut: str = ""  # the cut frozen for this reader ('' = the whole issue; render/cuts.py)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row."""

    subscriber_id: int
    status: str  # pending (not tried), sent, deferred, failed
    error: str | None = None
    next_attempt_at: datetime | None = None
    bounced: bool = False
    tried: bool = True
    gave_up: bool = False  # failed because its temporary refusals outlasted the deadline


@dataclass(frozen=True)
class Problem:
    """One recipient's row of an issue's outbox, as `digest report` and the console show it."""

    email: str
    status: str
    attempts: int
    last_error: str
    bounced: bool
    updated_at: str
    gave_up: bool = False  # staff may retry it (delivery/retry.py)


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

    def freeze_audience(
        self,
        issue_id: str,
        domain: str,
        now: datetime,
        cuts: Mapping[str, str] | None = None,
        skipped: Mapping[str, str] | None = None,
    ) -> int:
        """Create one pending row per confirmed subscriber not paused at `now` and mark the
        issue 'sending'.

        `cuts` gives the cut of each `subscribers.themes` value (missing: the whole issue);
        a reader whose cut is in `skipped` gets a 'skipped' row with that reason instead.
        One transaction, so the audience is all or nothing; later calls add no row (a new
        subscriber gets the next issue). Returns the audience size.
        """
        cuts, skipped = cuts or {}, skipped or {}
        when = now.isoformat()
        with self.transaction() as db:
            status = db.execute("SELECT status FROM issues WHERE id = ?", (issue_id,)).fetchone()
            if status is None:
                raise StoreError(t("store.no_issue", issue=issue_id), hint=t("store.no_issue_hint"))
            if status[0] not in ("sending", "sent"):  # built, approved, or skipped and forced
                # A reader who paused is left out until the pause ends (people.pause).
                reader = db.execute(
                    f"SELECT id, themes FROM subscribers WHERE {AUDIENCE} ORDER BY id",
                    (moment(now),),
                )
                while chunk := reader.fetchmany(FETCH):
                    rows = []
                    for i, themes in chunk:
                        cut = cuts.get(themes, "")
                        why = skipped.get(cut)
                        status = "pending" if why is None else "skipped"
                        message_id = _message_id(issue_id, i, domain)
                        rows.append((issue_id, i, status, message_id, why, when, when, cut))
                    db.executemany(
                        "INSERT INTO outbox (issue_id, subscriber_id, status, message_id,"
                        " last_error, updated_at, created_at, cut)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
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
                "UPDATE outbox SET status = 'failed', updated_at = ?, gave_up = 1,"
                " last_error = 'gave up after the retry deadline: ' || COALESCE(last_error, '')"
                " WHERE issue_id = ? AND status = 'deferred' AND created_at < ?",
                (now.isoformat(), issue_id, created_before.isoformat()),
            )
        return int(cursor.rowcount)

    _CLAIM = (
        "SELECT o.subscriber_id, s.email, o.message_id, o.attempts, o.created_at, s.status,"
        " o.cut"
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
        return [OutboxRow(r[0], r[1], r[2], r[3], _optional(r[4]), r[6]) for r in claimed]

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
                int(o.gave_up),
                when,
                issue_id,
                o.subscriber_id,
            )
            for o in outcomes
        ]
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET status = ?, attempts = attempts + ?, next_attempt_at = ?,"
                f" last_error = {_ERROR_UNLESS_ERASED}, bounced = ?, gave_up = ?, updated_at = ?"
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
        statuses = ("pending", "sending", "sent", "deferred", "failed", "skipped", "bounced")
        counts = dict.fromkeys(statuses, 0)
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
            " COALESCE(o.last_error, ''), o.bounced, o.updated_at, o.gave_up"
            " FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id"
            " WHERE o.issue_id = ? AND o.status IN ('deferred', 'failed')"
            " ORDER BY o.status, s.email",
            (ERASED, issue_id),
        )
        while chunk := cursor.fetchmany(FETCH):
            for r in chunk:
                yield Problem(r[0], r[1], r[2], r[3], bool(r[4]), r[5], bool(r[6]))

    def deliveries(
        self, issue_id: str, shown: str | None = None, limit: int = -1, offset: int = 0
    ) -> Iterator[Problem]:
        """Every row of the issue (or those of one SHOWN filter), by address, streamed: the
        console's report. `limit` -1 means no limit."""
        where = f" AND {SHOWN[shown]}" if shown else ""
        cursor = self.db.execute(
            "SELECT COALESCE(s.email, ?), o.status, o.attempts,"
            " COALESCE(o.last_error, ''), o.bounced, o.updated_at, o.gave_up"
            " FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id"
            f" WHERE o.issue_id = ?{where} ORDER BY s.email, o.subscriber_id LIMIT ? OFFSET ?",
            (ERASED, issue_id, limit, offset),
        )
        while chunk := cursor.fetchmany(FETCH):
            for r in chunk:
                yield Problem(r[0], r[1], r[2], r[3], bool(r[4]), r[5], bool(r[6]))

    def delivery_count(self, issue_id: str, shown: str | None = None) -> int:
        """How many rows `deliveries` yields without a limit."""
        where = f" AND {SHOWN[shown]}" if shown else ""
        row = self.db.execute(
            f"SELECT COUNT(*) FROM outbox o WHERE o.issue_id = ?{where}", (issue_id,)
        ).fetchone()
        return int(row[0])

    def recipients_preview(
        self, issue_id: str, limit: int, now: datetime, thin: Collection[str] = ()
    ) -> tuple[int, list[str]]:
        """Who a send would reach now: the count and the first `limit` addresses.

        Before sending starts, the confirmed subscribers not paused at `now` (as
        freeze_audience takes them), less those whose theme choice is in `thin` (their cut
        is too thin: the freeze would skip them); after, the rows still to try.
        """
        if self.audience(issue_id):
            where = (
                "JOIN outbox o ON o.subscriber_id = s.id WHERE o.issue_id = ?"
                " AND o.status IN ('pending', 'sending', 'deferred') AND s.status = 'confirmed'"
            )
            args: tuple[str, ...] = (issue_id,)
        else:
            left_out = f" AND s.themes NOT IN ({','.join('?' * len(thin))})" if thin else ""
            where, args = f"WHERE {AUDIENCE}{left_out}", (moment(now), *thin)
        count = self.db.execute(f"SELECT COUNT(*) FROM subscribers s {where}", args).fetchone()
        first = self.db.execute(
            f"SELECT s.email FROM subscribers s {where} ORDER BY s.id LIMIT ?", (*args, limit)
        ).fetchall()
        return int(count[0]), [str(r[0]) for r in first]

    def audience_with_themes(self, choices: Collection[str], now: datetime) -> int:
        """How many of the audience a freeze would take at `now` chose one of `choices`."""
        if not choices:
            return 0
        marks = ",".join("?" * len(choices))
        row = self.db.execute(
            f"SELECT COUNT(*) FROM subscribers WHERE {AUDIENCE} AND themes IN ({marks})",
            (moment(now), *choices),
        ).fetchone()
        return int(row[0])

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
                "UPDATE outbox SET status = 'failed', gave_up = 0,"
                f" last_error = {_ERROR_UNLESS_ERASED}, bounced = ?, updated_at = ?"
                " WHERE issue_id = ? AND subscriber_id = ? AND status IN ('sent', 'failed')",
                (error[:500], int(bounced), now.isoformat(), issue_id, subscriber_id),
            )

    _RETRYABLE = (
        "issue_id = ? AND status = 'failed' AND gave_up = 1"
        f" AND subscriber_id IN (SELECT id FROM subscribers WHERE {AUDIENCE})"
    )

    def retryable(self, issue_id: str, now: datetime) -> int:
        """Rows `reopen_given_up` would put back at `now`: given up on, and their reader
        still in the audience (confirmed, not paused)."""
        row = self.db.execute(
            f"SELECT COUNT(*) FROM outbox WHERE {self._RETRYABLE}", (issue_id, moment(now))
        ).fetchone()
        return int(row[0])

    def reopen_given_up(self, issue_id: str, now: datetime) -> int:
        """Put the retryable rows back to 'pending', and a 'sent' issue back to 'sending' if
        any was; one transaction. Each keeps its Message-ID (the message was never accepted:
        a resume after a crash sends the same one) and its attempts; `created_at` becomes
        `now`, so the retry deadline counts from the retry. Returns how many were reopened."""
        when = now.isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET status = 'pending', gave_up = 0, next_attempt_at = NULL,"
                f" last_error = NULL, created_at = ?, updated_at = ? WHERE {self._RETRYABLE}",
                (when, when, issue_id, moment(now)),
            )
            if cursor.rowcount:
                db.execute(
                    "UPDATE issues SET status = 'sending' WHERE id = ? AND status = 'sent'",
                    (issue_id,),
                )
        return int(cursor.rowcount)


def _message_id(issue_id: str, subscriber_id: int, domain: str) -> str:
    """`<issue.subscriber.random@domain>`: fixed at row creation, reused by every retry."""
    return f"<{issue_id}.{subscriber_id}.{secrets.token_hex(6)}@{domain}>"


def _optional(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
