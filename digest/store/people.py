"""Queries for subscribers and their consent log (the rules live in digest.subscribers)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

from ..models import ConsentRecord, Subscriber
from .base import StoreBase, moment
from .base import when as _when

# Subscriber ids are in the links of every email (confirm, unsubscribe): an id must never be
# given to a second person. SQLite reuses the ids of rows a restored backup lost, so a new
# id is also at least the milliseconds since ID_EPOCH: later than any id given before the
# backup was restored (a burst of inserts runs ahead of the clock by a millisecond each).
ID_EPOCH = datetime(2026, 11, 26, tzinfo=UTC)

# What stands for an erased address or name where a text quoted it (as `digest report` shows
# an erased subscriber).
ERASED = "(erased)"


def id_floor(now: datetime) -> int:
    """The smallest id a subscriber created at `now` may get."""
    return max(1, int((now - ID_EPOCH).total_seconds() * 1000))


class SubscriberQueries(StoreBase):
    """Subscribers and consent records."""

    # Written for digest.subscribers, which holds the rules; these only read and write.

    _SUBSCRIBER_COLUMNS = (
        "id, email, name, status, language, created_at, updated_at, confirmed_at, unsubscribed_at,"
        " themes, pending_themes, paused_until"
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

    def subscribers(self, status: str | None = None, theme: str | None = None) -> list[Subscriber]:
        """Every subscriber (erased ones excepted), or those with `status`, by address; with
        `theme`, only those who receive it: who chose it, or chose no theme (every one)."""
        where, args = ("status = ?", [status]) if status else ("status <> 'erased'", [])
        if theme is not None:
            # LIKE, not instr: portable to PostgreSQL; `_` is in ids and a LIKE wildcard.
            where += " AND (themes = '' OR ' ' || themes || ' ' LIKE ? ESCAPE '!')"
            args.append(f"% {_like(theme)} %")
        rows = self.db.execute(
            f"SELECT {self._SUBSCRIBER_COLUMNS} FROM subscribers WHERE {where} ORDER BY email",
            args,
        ).fetchall()
        return [_subscriber(row) for row in rows]

    def search_subscribers(
        self, text: str, status: str | None, theme: str | None, limit: int, offset: int
    ) -> tuple[list[Subscriber], int]:
        """One page of the subscribers (erased ones excepted) whose address or name holds
        `text` (any case, for ASCII letters: SQLite's LIKE), with `status` and receiving
        `theme` when given, by address; and how many match in all."""
        where, args = ["status <> 'erased'"], []
        if status:
            where.append("status = ?")
            args.append(status)
        if text:
            where.append("(email LIKE ? ESCAPE '!' OR name LIKE ? ESCAPE '!')")
            args += [f"%{_like(text)}%"] * 2
        if theme is not None:
            where.append("(themes = '' OR ' ' || themes || ' ' LIKE ? ESCAPE '!')")
            args.append(f"% {_like(theme)} %")
        clause = " AND ".join(where)
        total = self.db.execute(f"SELECT COUNT(*) FROM subscribers WHERE {clause}", args)
        rows = self.db.execute(
            f"SELECT {self._SUBSCRIBER_COLUMNS} FROM subscribers WHERE {clause}"
            " ORDER BY email LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        return [_subscriber(row) for row in rows], int(total.fetchone()[0])

    def status_counts(self) -> dict[str, int]:
        """How many subscribers have each status (erased ones included)."""
        rows = self.db.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status")
        return {status: int(count) for status, count in rows.fetchall()}

    def theme_choices(self, status: str = "confirmed") -> dict[tuple[str, ...], int]:
        """How many subscribers with `status` chose each set of themes (() = every theme)."""
        rows = self.db.execute(
            "SELECT themes, COUNT(*) FROM subscribers WHERE status = ? GROUP BY themes", (status,)
        )
        return {_ids(themes): int(count) for themes, count in rows.fetchall()}

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
        themes: tuple[str, ...] | None = None,
    ) -> int | None:
        """Insert a subscriber and its first consent event; None if the address exists.
        `themes`: those it receives (none: every theme), recorded in the event too; None:
        every theme, and the event says nothing of them (a subscription waiting for its
        confirmation, which records them)."""
        when = now.isoformat()
        confirmed = when if status == "confirmed" else None
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    "INSERT INTO subscribers (id, email, name, status, language, created_at,"
                    " updated_at, confirmed_at, themes)"
                    " VALUES ((SELECT MAX(COALESCE(MAX(id), 0) + 1, ?)"
                    " FROM subscribers), ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        id_floor(now),
                        email,
                        name,
                        status,
                        language,
                        when,
                        when,
                        confirmed,
                        _text(themes or ()),
                    ),
                )
                new_id = int(cursor.lastrowid or 0)
                self._log_consent(new_id, event, when, source, ip, themes)
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
        themes: tuple[str, ...] | None = None,
    ) -> bool:
        """Move to `status` only from one of `allowed_from` (atomic); log it. True if moved.
        `themes`: set them too (None: leave them). A choice waiting for confirmation is
        dropped: the next one is made afresh, and so is a pause (a reader who leaves and
        comes back gets the next issue)."""
        when = now.isoformat()
        stamp = {"confirmed": "confirmed_at", "unsubscribed": "unsubscribed_at"}.get(status)
        extra = f", {stamp} = ?" if stamp else ""
        extra += ", themes = ?" if themes is not None else ""
        values = ([when] if stamp else []) + ([_text(themes)] if themes is not None else [])
        marks = ",".join("?" * len(allowed_from))
        with self.transaction() as db:
            cursor = db.execute(
                # An email owed for the old status is not owed for the new one.
                "UPDATE subscribers SET status = ?, updated_at = ?, confirm_due_at = NULL,"
                " confirm_attempts = 0, pending_themes = NULL, paused_until = NULL"
                f"{extra}"
                f" WHERE id = ? AND status IN ({marks})",
                (status, when, *values, subscriber_id, *allowed_from),
            )
            if cursor.rowcount:
                self._log_consent(subscriber_id, event, when, source, ip, themes)
        return bool(cursor.rowcount)

    def set_themes(
        self,
        subscriber_id: int,
        themes: tuple[str, ...],
        now: datetime,
        *,
        source: str,
        ip: str | None = None,
    ) -> bool:
        """Change the themes of a subscriber (not erased); a 'themes' consent event records
        the new set. True if they changed."""
        when, text = now.isoformat(), _text(themes)
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET themes = ?, updated_at = ?"
                " WHERE id = ? AND themes <> ? AND status <> 'erased'",
                (text, when, subscriber_id, text),
            )
            if cursor.rowcount:
                self._log_consent(subscriber_id, "themes", when, source, ip, themes)
        return bool(cursor.rowcount)

    def choose_pending_themes(self, subscriber_id: int, themes: tuple[str, ...]) -> None:
        """The subscribe form's choice, kept until the address is confirmed; a confirmed
        subscriber's themes are not changed by a form anyone can send (the same statement
        runs either way, so that its cost tells nothing)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE subscribers SET pending_themes = ? WHERE id = ? AND status <> 'confirmed'",
                (_text(themes), subscriber_id),
            )

    def set_name(self, subscriber_id: int, name: str, now: datetime) -> bool:
        """Change a confirmed subscriber's name. True if it changed. Not a consent event:
        the consent log holds no name (it outlives an erasure)."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET name = ?, updated_at = ?"
                " WHERE id = ? AND name <> ? AND status = 'confirmed'",
                (name, now.isoformat(), subscriber_id, name),
            )
        return bool(cursor.rowcount)

    def pause(
        self, subscriber_id: int, until: datetime, now: datetime, *, source: str, ip: str | None
    ) -> bool:
        """No issue for a confirmed subscriber before `until`; a 'pause' consent event
        records its end. True if paused (False: not confirmed)."""
        when, end = now.isoformat(), moment(until)
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET paused_until = ?, updated_at = ?"
                " WHERE id = ? AND status = 'confirmed'",
                (end, when, subscriber_id),
            )
            if cursor.rowcount:
                self._log_consent(subscriber_id, "pause", when, source, ip, paused_until=end)
        return bool(cursor.rowcount)

    def resume(self, subscriber_id: int, now: datetime, *, source: str, ip: str | None) -> bool:
        """End a pause still running (a 'resume' consent event). True if one was."""
        when = now.isoformat()
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE subscribers SET paused_until = NULL, updated_at = ?"
                " WHERE id = ? AND paused_until > ? AND status <> 'erased'",
                (when, subscriber_id, moment(now)),
            )
            if cursor.rowcount:
                self._log_consent(subscriber_id, "resume", when, source, ip)
        return bool(cursor.rowcount)

    def consent_log(self, subscriber_id: int) -> list[ConsentRecord]:
        rows = self.db.execute(
            "SELECT subscriber_id, event, at, source, ip, email_hash, themes, paused_until"
            " FROM consent_log WHERE subscriber_id = ? ORDER BY id",
            (subscriber_id,),
        ).fetchall()
        return [
            ConsentRecord(
                r[0], r[1], _when(r[2]), r[3], r[4], r[5], _optional_ids(r[6]), _optional(r[7])
            )
            for r in rows
        ]

    def erase_subscriber(
        self, subscriber_id: int, email_hash: str, now: datetime, *, source: str
    ) -> None:
        """Drop the address, name and IPs; keep the row (its id) and an 'erase' record.

        The outbox's error texts go too: SMTP replies quote the address ("550 5.1.1
        <lea@example.org>: no such user"). Those of this subscriber are dropped; any other
        that quotes the address or the name gets ERASED in their place. The old bytes are
        zeroed as they are freed (secure_delete); `scrub` then clears what earlier writes
        left in the file.
        """
        when = now.isoformat()
        self.db.execute("PRAGMA secure_delete=ON")
        with self.transaction() as db:
            row = db.execute(
                "SELECT email, name FROM subscribers WHERE id = ?", (subscriber_id,)
            ).fetchone()
            quoted = [text for text in (row or ()) if text]
            db.execute(
                "UPDATE subscribers SET email = NULL, name = '', status = 'erased',"
                " themes = '', pending_themes = NULL, paused_until = NULL, updated_at = ?"
                " WHERE id = ?",
                (when, subscriber_id),
            )
            # What someone chose to read says something about them: it goes with the IPs.
            db.execute(
                "UPDATE consent_log SET ip = NULL, themes = NULL, paused_until = NULL"
                " WHERE subscriber_id = ?",
                (subscriber_id,),
            )
            db.execute(
                "UPDATE outbox SET last_error = NULL WHERE subscriber_id = ?", (subscriber_id,)
            )
            self._redact_errors(quoted)
            db.execute(
                "INSERT INTO consent_log (subscriber_id, event, at, source, email_hash)"
                " VALUES (?, 'erase', ?, ?, ?)",
                (subscriber_id, when, source, email_hash),
            )

    def _redact_errors(self, quoted: list[str]) -> None:
        """Replace each of `quoted` (any case, as a whole) by ERASED in every outbox error."""
        for text in quoted:
            rows = self.db.execute(
                "SELECT rowid, last_error FROM outbox WHERE instr(lower(last_error), ?) > 0",
                (text.lower(),),
            ).fetchall()
            pattern = _whole(text)
            self.db.executemany(
                "UPDATE outbox SET last_error = ? WHERE rowid = ?",
                [(pattern.sub(ERASED, error), rowid) for rowid, error in rows],
            )

    def was_erased(self, email_hash: str) -> bool:
        """Whether an address with this hash was erased (the consent log keeps the hash)."""
        row = self.db.execute(
            "SELECT 1 FROM consent_log WHERE event = 'erase' AND email_hash = ? LIMIT 1",
            (email_hash,),
        ).fetchone()
        return row is not None

    def _log_consent(
        self,
        subscriber_id: int,
        event: str,
        when: str,
        source: str,
        ip: str | None,
        themes: tuple[str, ...] | None = None,
        paused_until: str | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO consent_log (subscriber_id, event, at, source, ip, themes, paused_until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                subscriber_id,
                event,
                when,
                source,
                ip,
                None if themes is None else _text(themes),
                paused_until,
            ),
        )

    # -- /subscribers ------------------------------------------------------------------


# Characters that may stand next to an address inside a longer one: erasing
# lea@example.org must not touch marie-lea@example.org nor lea@example.org.uk.
_ADDRESS_BEFORE = r"(?<![\w!#$%&'*+/=?^`{|}~.-])"
_ADDRESS_AFTER = r"(?![\w-]|\.\w)"


def _whole(text: str) -> re.Pattern[str]:
    """`text` where it stands alone: an address not inside a longer one, a name not inside
    a longer word."""
    before, after = (_ADDRESS_BEFORE, _ADDRESS_AFTER) if "@" in text else (r"(?<!\w)", r"(?!\w)")
    return re.compile(before + re.escape(text) + after, re.IGNORECASE)


def _subscriber(row: tuple[Any, ...]) -> Subscriber:
    confirmed, unsubscribed = (_when(v) if v else None for v in row[7:9])
    return Subscriber(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        _when(row[5]),
        _when(row[6]),
        confirmed,
        unsubscribed,
        themes=_ids(row[9]),
        pending_themes=_optional_ids(row[10]),
        paused_until=_optional(row[11]),
    )


def _text(themes: tuple[str, ...]) -> str:
    """A set of theme ids as stored: sorted, one space apart ('' = every theme)."""
    return " ".join(sorted(set(themes)))


def _ids(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _optional_ids(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else _ids(text)


def _optional(text: str | None) -> datetime | None:
    return None if text is None else _when(text)


def _like(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself (escape character `!`)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
