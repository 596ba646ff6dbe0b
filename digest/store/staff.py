"""Queries for staff accounts, their sessions and the audit log (the rules live in
digest.web.staff: password policy, session expiry, throttling).

Every timestamp here is written in UTC, so that comparing the ISO strings compares moments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .base import StoreBase
from .base import when as _when


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    name: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class StaffSession:
    """A signed-in session: whose, since when, and when it was last used."""

    token_hash: str
    account: StaffAccount
    created_at: datetime
    last_seen: datetime


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    issue_id: str | None
    subscriber_id: int | None
    ip: str | None
    details: dict[str, Any]


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class StaffQueries(StoreBase):
    """Staff accounts, sessions and the audit log."""

    _ACCOUNT = "s.id, s.email, s.name, s.password_hash, s.created_at"

    def staff_account(self, email: str) -> StaffAccount | None:
        row = self.db.execute(
            f"SELECT {self._ACCOUNT} FROM staff s WHERE s.email = ?", (email,)
        ).fetchone()
        return _account(row) if row else None

    def staff_accounts(self) -> list[StaffAccount]:
        rows = self.db.execute(f"SELECT {self._ACCOUNT} FROM staff s ORDER BY s.email")
        return [_account(row) for row in rows.fetchall()]

    def save_staff(self, email: str, name: str, password_hash: str, now: datetime) -> bool:
        """Create the account, or give an existing one this name and password (its sessions
        end: a new password must lock out whoever knew the old one). True if created."""
        with self.transaction() as db:
            found = db.execute("SELECT id FROM staff WHERE email = ?", (email,)).fetchone()
            if found is None:
                db.execute(
                    "INSERT INTO staff (email, name, password_hash, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (email, name, password_hash, utc(now), utc(now)),
                )
                return True
            db.execute(
                "UPDATE staff SET name = ?, password_hash = ?, updated_at = ? WHERE id = ?",
                (name, password_hash, utc(now), found[0]),
            )
            db.execute("DELETE FROM staff_sessions WHERE staff_id = ?", (found[0],))
            return False

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        """A stronger hash of the same password (argon2's parameters were raised)."""
        self.db.execute(
            "UPDATE staff SET password_hash = ? WHERE id = ?", (password_hash, account_id)
        )

    def remove_staff(self, email: str) -> bool:
        """Delete the account and every session of it; False if there was none."""
        with self.transaction() as db:
            found = db.execute("SELECT id FROM staff WHERE email = ?", (email,)).fetchone()
            if found is None:
                return False
            db.execute("DELETE FROM staff_sessions WHERE staff_id = ?", (found[0],))
            db.execute("DELETE FROM staff WHERE id = ?", (found[0],))
            return True

    # -- sessions -----------------------------------------------------------------------

    def open_session(self, token_hash: str, account_id: int, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen)"
            " VALUES (?, ?, ?, ?)",
            (token_hash, account_id, utc(now), utc(now)),
        )

    def staff_session(self, token_hash: str) -> StaffSession | None:
        row = self.db.execute(
            f"SELECT {self._ACCOUNT}, x.token_hash, x.created_at, x.last_seen"
            " FROM staff_sessions x JOIN staff s ON s.id = x.staff_id WHERE x.token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        return StaffSession(row[5], _account(row[:5]), _when(row[6]), _when(row[7]))

    def touch_session(self, token_hash: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE staff_sessions SET last_seen = ? WHERE token_hash = ?", (utc(now), token_hash)
        )

    def close_session(self, token_hash: str) -> None:
        self.db.execute("DELETE FROM staff_sessions WHERE token_hash = ?", (token_hash,))

    def close_stale_sessions(self, idle_before: datetime, created_before: datetime) -> int:
        """Delete the sessions idle since `idle_before` or opened before `created_before`."""
        cursor = self.db.execute(
            "DELETE FROM staff_sessions WHERE last_seen < ? OR created_at < ?",
            (utc(idle_before), utc(created_before)),
        )
        return cursor.rowcount

    def session_count(
        self, account_id: int, idle_before: datetime, created_before: datetime
    ) -> int:
        """The account's live sessions: used since `idle_before`, opened since `created_before`."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM staff_sessions"
            " WHERE staff_id = ? AND last_seen >= ? AND created_at >= ?",
            (account_id, utc(idle_before), utc(created_before)),
        ).fetchone()
        return int(row[0])

    # -- audit log ----------------------------------------------------------------------

    def add_audit(self, entry: AuditEntry) -> int:
        """Write the entry; its row id."""
        cursor = self.db.execute(
            "INSERT INTO audit_log (at, actor, action, issue_id, subscriber_id, ip, details)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                utc(entry.at),
                entry.actor,
                entry.action,
                entry.issue_id,
                entry.subscriber_id,
                entry.ip,
                json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
            ),
        )
        return int(cursor.lastrowid or 0)

    def set_audit_action(self, entry_id: int, action: str) -> None:
        self.db.execute("UPDATE audit_log SET action = ? WHERE id = ?", (action, entry_id))

    def audit_entries(self, limit: int = 100, issue_id: str | None = None) -> list[AuditEntry]:
        """The latest entries first, all or those about one issue."""
        where, args = ("WHERE issue_id = ?", (issue_id,)) if issue_id else ("", ())
        rows = self.db.execute(
            "SELECT at, actor, action, issue_id, subscriber_id, ip, details FROM audit_log"
            f" {where} ORDER BY at DESC, id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            AuditEntry(_when(r[0]), r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows
        ]

    def count_actions(
        self, action: str, since: datetime, *, actor: str | None = None, ip: str | None = None
    ) -> int:
        """How many `action` entries since `since`, by `actor` or from `ip`."""
        column, value = ("actor", actor) if actor is not None else ("ip", ip)
        row = self.db.execute(
            f"SELECT COUNT(*) FROM audit_log WHERE action = ? AND {column} = ? AND at >= ?",
            (action, value, utc(since)),
        ).fetchone()
        return int(row[0])

    def last_action(self, action: str, actor: str) -> datetime | None:
        row = self.db.execute(
            "SELECT MAX(at) FROM audit_log WHERE action = ? AND actor = ?", (action, actor)
        ).fetchone()
        return _when(row[0]) if row and row[0] else None


def _account(row: Any) -> StaffAccount:
    return StaffAccount(row[0], row[1], row[2], row[3], _when(row[4]))
