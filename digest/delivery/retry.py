"""Retrying the failed ones: `digest retry ISSUE` and the report page's « Relancer les échecs ».

    retry_failed(store, issue_id, now) -> Retried

Only the rows that failed through nobody's fault are sent again: temporary refusals (4xx)
given up on once they outlasted `delivery.retry_hours` (the outbox marks them `gave_up`). A
bounce, a 5xx about the recipient, a reader who left before delivery: retrying those would
be refused again, or would write to someone who asked not to be written to. A reader who
unsubscribed or paused since is left out as well (store/outbox.py `AUDIENCE`).

The rows go back to 'pending' with the same Message-ID (the server never accepted it) and a
fresh retry deadline; the issue, if 'sent', is 'sending' again. Nothing is sent here: the
next `digest run` (or `digest send --issue`) sends them, as it resumes any issue 'sending'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import UsageError
from ..i18n import current_staff_language, status_label, t
from ..period import unknown_issue_hint
from ..store import Store

# An issue whose audience was frozen: it has outbox rows that may have failed.
WENT_OUT = ("sending", "sent")


@dataclass(frozen=True)
class Retried:
    """What `retry_failed` did: how many rows of `issue_id` will be sent again."""

    issue_id: str
    reopened: int


def retry_failed(store: Store, issue_id: str, now: datetime) -> Retried:
    """Put the given-up rows of `issue_id` back in the queue (one transaction); calling it
    again reopens nothing. UsageError for an unknown issue or one that never went out."""
    with store.transaction():
        retryable_issue(store, issue_id)
        return Retried(issue_id, store.reopen_given_up(issue_id, now.astimezone(UTC)))


def retryable_issue(store: Store, issue_id: str) -> str:
    """The issue's status, if its failures may be retried; else a UsageError saying why."""
    stored = store.issue(issue_id)
    if stored is None:
        raise UsageError(t("retry.no_issue", issue=issue_id), hint=unknown_issue_hint(issue_id))
    if stored.status not in WENT_OUT:
        status = status_label(current_staff_language(), stored.status, of="issue")
        raise UsageError(
            t("retry.not_sent", issue=issue_id, status=status),
            hint=t("retry.not_sent_hint", issue=issue_id),
        )
    return stored.status
