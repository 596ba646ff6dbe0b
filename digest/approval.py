"""`digest approve`: staff's go-ahead, checked against what `digest run` will then do.

An approval is a promise that the next `digest run` sends the issue as it is. So approve
refuses (exit 2, with the command that does send it) an issue that run would skip anyway,
too thin or past its deadline, and warns when what it freezes is a preview built before
the week was over (run would have rebuilt it; approved, it goes out as it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .config import Config
from .delivery.deliver import report
from .errors import UsageError
from .i18n import say, staff_language
from .period import unknown_issue_hint, week_period
from .schedule import Decision, Due, due_of, held, is_preview
from .store import Store, StoredIssue

WHEN = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class Approval:
    """What `digest approve` says: its outcome (stdout), then warnings (stderr)."""

    message: str
    warnings: tuple[str, ...] = ()


def approve_issue(config: Config, store: Store, issue_id: str, now: datetime) -> Approval:
    """Mark a reviewed issue ready for `digest run`, if run will send it; see the module."""
    language = staff_language(config)
    stored = store.issue(issue_id)
    if stored is None:
        unknown = say(language, "approve.unknown", issue=issue_id)
        raise UsageError(unknown, hint=unknown_issue_hint(issue_id))
    if stored.status == "sent":
        return Approval(say(language, "run.already_sent", issue=issue_id))
    if stored.status == "sending":
        left = report(store, issue_id).left
        return Approval(say(language, "approve.sending", issue=issue_id, left=left))
    tz = config.newsletter.tz
    due = due_of(week_period(issue_id, tz), config.schedule, tz)
    hold = held(due, stored, config.schedule, now)
    if hold is not None:
        raise _refusal(hold, language)
    warnings = (_preview_warning(stored, due, language),) if is_preview(stored, tz) else ()
    if stored.status == "approved":
        return Approval(say(language, "approve.already", issue=issue_id), warnings)
    store.set_issue_status(issue_id, "approved")
    return Approval(_approved(due, now, language), warnings)


def _preview_warning(stored: StoredIssue, due: Due, language: str) -> str:
    """Approving a mid-week build freezes it: `digest run` rebuilds a preview when due,
    but sends an approved one as it is (staff may mean it: prepared on Friday)."""
    built = stored.built_at.astimezone(due.period.end.tzinfo).strftime(WHEN)
    end = due.period.end.strftime(WHEN)
    return say(language, "approve.preview", issue=stored.id, built=built, end=end)


def _approved(due: Due, now: datetime, language: str) -> str:
    fields = {"issue": due.issue_id, "deadline": due.deadline.strftime(WHEN)}
    if now < due.slot:
        return say(language, "approve.done_from", slot=due.slot.strftime(WHEN), **fields)
    return say(language, "approve.done", **fields)


def _refusal(hold: Decision, language: str) -> UsageError:
    """Why an issue run would skip is not approved, and the commands that send it anyway."""
    issue, fields = hold.issue, dict(hold.fields)
    send = say(language, "approve.send_command", issue=issue)
    if hold.phrase == "run.thin":
        return UsageError(
            say(
                language,
                "approve.thin",
                issue=issue,
                count=fields["count"],
                minimum=fields["minimum"],
            ),
            hint=say(language, "approve.thin_hint", issue=issue, send=send),
        )
    return UsageError(
        say(language, "approve.late", issue=issue, deadline=fields["deadline"]),
        hint=say(language, "approve.late_hint", send=send),
    )
