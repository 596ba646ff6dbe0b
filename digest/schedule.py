"""The cron job's judgement: which issue is due, and what `digest run` should do about it.

The issue of ISO week W covers Monday to Sunday of W, so it can only go out once W is over:
at the first schedule slot (weekday and hour, local time) of the following week. A run
decides from the stored issue's status and the clock alone, so running it every few minutes
is safe: once the due issue is sent (or deliberately skipped) it does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from .config import ScheduleConfig
from .i18n import N_, say
from .models import Period
from .period import week_of, week_period
from .store import StoredIssue

Action = Literal["build", "wait", "send", "skip", "nothing"]


@dataclass(frozen=True)
class Due:
    """The issue the schedule says is due at `now`, with its slot and deadline."""

    period: Period
    slot: datetime
    deadline: datetime

    @property
    def issue_id(self) -> str:
        return self.period.name


@dataclass(frozen=True)
class Decision:
    """What to do, and how to say it: a message key and its fields (language-free)."""

    action: Action
    phrase: str
    issue: str
    fields: tuple[tuple[str, object], ...] = ()

    def message(self, language: str) -> str:
        return say(language, self.phrase, issue=self.issue, **dict(self.fields))

    @property
    def loud(self) -> bool:
        """Staff must notice: the issue is deliberately not sent (stderr, cron's mail)."""
        return self.action == "skip"


def latest_slot(schedule: ScheduleConfig, tz: ZoneInfo, now: datetime) -> datetime:
    """The most recent weekday-and-hour slot at or before `now`, in the newsletter's zone."""
    week = week_of(now, tz)
    day = week.start.date() + timedelta(days=schedule.weekday_number)
    slot = datetime(day.year, day.month, day.day, schedule.hour, tzinfo=tz)
    return slot if slot <= now else slot - timedelta(days=7)


def due_issue(schedule: ScheduleConfig, tz: ZoneInfo, now: datetime) -> Due:
    """The week before the latest slot's week: the last complete week."""
    slot = latest_slot(schedule, tz, now)
    return due_of(week_of(week_of(slot, tz).start - timedelta(days=1), tz), schedule, tz)


def due_of(week: Period, schedule: ScheduleConfig, tz: ZoneInfo) -> Due:
    """When the issue of `week` is due: the first slot at or after its end, and its deadline.

    The deadline is at most the next slot: from then on `digest run` deals with the next
    week's issue and never comes back to this one, whatever `deadline_hours` says.
    """
    slot = latest_slot(schedule, tz, week.end)
    if slot < week.end:
        slot += timedelta(days=7)  # same local time: aware arithmetic keeps the wall clock
    deadline = min(slot + timedelta(hours=schedule.deadline_hours), slot + timedelta(days=7))
    return Due(week, slot, deadline)


def is_preview(stored: StoredIssue, tz: ZoneInfo) -> bool:
    """Built before its week was over: what was published since is not in it."""
    return stored.built_at < week_period(stored.id, tz).end


def item_count(stored: StoredIssue) -> int:
    """How many items the stored issue shows (featured, sections and agenda)."""
    data = json.loads(stored.data)
    blocks = [data.get("featured"), *data.get("sections", []), data.get("agenda")]
    return sum(len(block["items"]) for block in blocks if block)


def decide(
    due: Due, stored: StoredIssue | None, schedule: ScheduleConfig, now: datetime, force: bool
) -> Decision:
    """What to do with the due issue. Building is decided first; sending after a build."""
    name = due.issue_id
    if stored is None or _stale(stored, due):
        return Decision("build", N_("run.build"), name)
    if stored.status == "sent":
        return Decision("nothing", N_("run.already_sent"), name)
    if stored.status == "sending":
        return Decision("send", N_("run.resume"), name)
    if stored.status == "skipped" and not force:
        return Decision("nothing", N_("run.skipped_earlier"), name)
    return _sendable(due, stored, schedule, now, force)


def _stale(stored: StoredIssue, due: Due) -> bool:
    """A preview built before the week was over is rebuilt when due (only then does it hold
    the whole week), unless staff approved it as it is: `digest approve` warns them."""
    return stored.status == "built" and stored.built_at < due.period.end


def _sendable(
    due: Due, stored: StoredIssue, schedule: ScheduleConfig, now: datetime, force: bool
) -> Decision:
    """Too thin or too late is said at once, approved or not: approving would not help."""
    name = due.issue_id
    if force:
        return Decision("send", N_("run.send"), name)
    if (hold := held(due, stored, schedule, now)) is not None:
        return hold
    if schedule.approval == "required" and stored.status != "approved":
        return Decision("wait", N_("run.waiting"), name)
    return Decision("send", N_("run.send"), name)


def held(due: Due, stored: StoredIssue, schedule: ScheduleConfig, now: datetime) -> Decision | None:
    """Why `digest run` will not send `stored` at `now` even if approved (a skip), or None.

    `digest approve` asks the same question, so that it never approves what run skips.
    """
    name = due.issue_id
    count = item_count(stored)
    if count < schedule.min_items:
        return Decision(
            "skip", N_("run.thin"), name, (("count", count), ("minimum", schedule.min_items))
        )
    if now > due.deadline:
        late = (("deadline", due.deadline.strftime("%Y-%m-%d %H:%M")),)
        if schedule.approval == "required" and stored.status != "approved":
            return Decision("skip", N_("run.not_approved"), name, late)
        return Decision("skip", N_("run.late"), name, late)
    return None
