"""The emails that double opt-in owes: kept in the store until one is sent.

A pending subscriber with `confirm_due_at` set is owed a confirmation email from that time
on; a confirmed one, the welcome email that follows confirming on the site. A change of
status clears the mark (store/people.py), so staff adding or importing someone sends
nothing, and an unsubscribed reader is sent no welcome. The site's mailer claims due rows
(so two server processes never both send one), sends them, and clears the mark, or sets
the next try after a failure. Because the mark is in the
store, a mail server that is down or a restarted site delays a confirmation; it never loses
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .base import StoreBase
from .base import when as _when

# A claimed row's mark moves this far ahead: if the process dies while sending, the email is
# tried again then (once more at most, and only in that rare case).
CLAIM_SECONDS = 600


@dataclass(frozen=True)
class DueConfirmation:
    subscriber_id: int
    email: str
    attempts: int  # earlier failed tries
    status: str = "pending"  # pending: the confirmation email; confirmed: the welcome
    claim: str = ""  # the mark the claim set: a newer request replaces it, and wins


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class ConfirmationQueries(StoreBase):
    """The `confirm_due_at` and `confirm_attempts` columns of subscribers."""

    def owe_confirmation(self, subscriber_id: int, now: datetime) -> None:
        """A confirmation email is due now (a new request starts the tries afresh)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE subscribers SET confirm_due_at = ?, confirm_attempts = 0"
                " WHERE id = ? AND status = 'pending'",
                (_utc(now), subscriber_id),
            )

    def owe_welcome(self, subscriber_id: int, now: datetime) -> None:
        """A welcome email is due now (after confirming on the site)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE subscribers SET confirm_due_at = ?, confirm_attempts = 0"
                " WHERE id = ? AND status = 'confirmed'",
                (_utc(now), subscriber_id),
            )

    def claim_confirmations(self, now: datetime, limit: int = 50) -> list[DueConfirmation]:
        """Due rows, oldest first, each marked as being sent by this process."""
        claimed: list[DueConfirmation] = []
        later = _utc(now + timedelta(seconds=CLAIM_SECONDS))
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, email, confirm_attempts, status FROM subscribers"
                " WHERE status IN ('pending', 'confirmed')"
                " AND confirm_due_at IS NOT NULL AND confirm_due_at <= ?"
                " ORDER BY confirm_due_at, id LIMIT ?",
                (_utc(now), limit),
            ).fetchall()
            for subscriber_id, email, attempts, status in rows:
                db.execute(
                    "UPDATE subscribers SET confirm_due_at = ? WHERE id = ?", (later, subscriber_id)
                )
                claimed.append(DueConfirmation(subscriber_id, email, attempts, status, later))
        return claimed

    def confirmation_done(
        self, subscriber_id: int, retry_at: datetime | None = None, claim: str = ""
    ) -> None:
        """Sent (or given up: `retry_at` None after a failure); else tried again at `retry_at`.

        With `claim` (the mark of the claim), a row marked again since (the reader asked
        again while this email was going out) keeps its new mark: that email is owed too."""
        still = " AND confirm_due_at = ?" if claim else ""
        with self.transaction() as db:
            if retry_at is None:
                db.execute(
                    f"UPDATE subscribers SET confirm_due_at = NULL WHERE id = ?{still}",
                    (subscriber_id, *([claim] if claim else [])),
                )
            else:
                db.execute(
                    "UPDATE subscribers SET confirm_due_at = ?,"
                    f" confirm_attempts = confirm_attempts + 1 WHERE id = ?{still}",
                    (_utc(retry_at), subscriber_id, *([claim] if claim else [])),
                )

    def next_confirmation_at(self) -> datetime | None:
        """When the next owed confirmation is due (maybe already), or None."""
        row = self.db.execute(
            "SELECT MIN(confirm_due_at) FROM subscribers"
            " WHERE status IN ('pending', 'confirmed') AND confirm_due_at IS NOT NULL"
        ).fetchone()
        return _when(row[0]) if row and row[0] else None
