"""The cron judgement: which issue is due and what a run does, for every stored state."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from digest.config import ScheduleConfig
from digest.period import week_period
from digest.schedule import decide, due_issue, due_of, held, latest_slot
from digest.store import StoredIssue

PARIS = ZoneInfo("Europe/Paris")
MONDAY_9 = ScheduleConfig()  # monday, 9 h, approval required, 3 items, 48 h
AUTO = ScheduleConfig(approval="auto")


def at(day: int, hour: int, minute: int = 0, month: int = 5) -> datetime:
    return datetime(2023, month, day, hour, minute, tzinfo=PARIS)


def stored(status: str, items: int = 5, built: datetime | None = None) -> StoredIssue:
    data = {"featured": None, "agenda": None, "sections": [{"items": [{}] * items}]}
    return StoredIssue(
        "2023-W19", at(8, 0), at(15, 0), built or at(15, 9, 1), json.dumps(data), "", "", "",
        status,
    )  # fmt: skip


def test_the_issue_of_a_week_is_due_at_the_next_weeks_slot() -> None:
    due = due_issue(MONDAY_9, PARIS, at(15, 9, 30))
    assert due.issue_id == "2023-W19"
    assert due.slot == at(15, 9) and due.deadline == at(17, 9)
    assert due_issue(MONDAY_9, PARIS, at(15, 8, 59)).issue_id == "2023-W18"
    assert due_issue(MONDAY_9, PARIS, at(21, 23)).issue_id == "2023-W19"


def test_slots_on_other_weekdays_and_across_dst() -> None:
    friday = ScheduleConfig(weekday="friday", hour=16)
    assert latest_slot(friday, PARIS, at(19, 15)) == at(12, 16)
    assert latest_slot(friday, PARIS, at(19, 16)) == at(19, 16)
    # Clocks went forward on Sunday 26 March 2023: the slot stays at 9:00 local time.
    slot = latest_slot(MONDAY_9, PARIS, datetime(2023, 3, 27, 10, tzinfo=PARIS))
    assert slot.isoformat() == "2023-03-27T09:00:00+02:00"


@pytest.mark.parametrize(
    ("issue", "schedule", "now", "force", "action"),
    [
        (None, MONDAY_9, at(15, 9, 5), False, "build"),
        (stored("built", built=at(12, 17)), MONDAY_9, at(15, 9, 5), False, "build"),
        (stored("approved", built=at(12, 17)), MONDAY_9, at(15, 9, 5), False, "send"),
        (stored("built"), MONDAY_9, at(15, 10), False, "wait"),
        (stored("built", items=2), MONDAY_9, at(15, 10), False, "skip"),  # thin: said at once
        (stored("built"), MONDAY_9, at(17, 10), False, "skip"),
        (stored("built"), MONDAY_9, at(15, 10), True, "send"),
        (stored("approved"), MONDAY_9, at(15, 10), False, "send"),
        (stored("approved", items=2), MONDAY_9, at(15, 10), False, "skip"),
        (stored("approved", items=2), MONDAY_9, at(15, 10), True, "send"),
        (stored("approved"), MONDAY_9, at(17, 9, 1), False, "skip"),
        (stored("approved"), MONDAY_9, at(17, 9, 1), True, "send"),
        (stored("built"), AUTO, at(15, 10), False, "send"),
        (stored("built", items=0), AUTO, at(15, 10), False, "skip"),
        (stored("sending"), MONDAY_9, at(20, 10), False, "send"),
        (stored("sent"), MONDAY_9, at(15, 10), True, "nothing"),
        (stored("skipped"), MONDAY_9, at(15, 10), False, "nothing"),
        (stored("skipped"), MONDAY_9, at(15, 10), True, "send"),
    ],
)
def test_decisions(
    issue: StoredIssue | None, schedule: ScheduleConfig, now: datetime, force: bool, action: str
) -> None:
    due = due_issue(schedule, PARIS, now)
    decision = decide(due, issue, schedule, now, force)
    assert decision.action == action, decision.message("en")
    assert decision.message("fr").startswith(due.issue_id)
    assert decision.message("en").startswith(due.issue_id)


def test_a_skip_says_why_loudly() -> None:
    now = at(15, 10)
    thin = decide(due_issue(MONDAY_9, PARIS, now), stored("approved", 1), MONDAY_9, now, False)
    assert thin.loud
    assert thin.message("en") == "2023-W19: NOT SENT: only 1 item, fewer than 3"
    assert thin.message("fr") == "2023-W19 : NON ENVOYÉE : seulement 1 article, moins de 3"
    late_at = at(18, 10)
    late = decide(due_issue(MONDAY_9, PARIS, late_at), stored("approved"), MONDAY_9, late_at, False)
    assert late.loud
    assert late.message("en") == "2023-W19: NOT SENT: its deadline (2023-05-17 09:00) has passed"
    assert late.message("fr") == (
        "2023-W19 : NON ENVOYÉE : sa date limite (2023-05-17 09:00) est passée"
    )


def test_a_thin_issue_is_thin_before_it_is_waiting_for_approval() -> None:
    now = at(15, 10)
    thin = decide(due_issue(MONDAY_9, PARIS, now), stored("built", 1), MONDAY_9, now, False)
    assert (thin.action, thin.phrase) == ("skip", "run.thin")


def test_when_an_issue_is_due_is_the_same_for_run_and_approve() -> None:
    w19 = week_period("2023-W19", PARIS)
    assert due_of(w19, MONDAY_9, PARIS) == due_issue(MONDAY_9, PARIS, at(15, 9))
    sunday = ScheduleConfig(weekday="sunday", hour=20)  # the sunday that ends W19 is too soon
    assert due_of(w19, sunday, PARIS).slot == at(21, 20)
    assert due_of(w19, sunday, PARIS) == due_issue(sunday, PARIS, at(21, 21))
    midnight = ScheduleConfig(hour=0)
    assert due_of(w19, midnight, PARIS).slot == w19.end
    # Once the next week's issue is due, run never comes back: that is the latest deadline.
    patient = ScheduleConfig(deadline_hours=500)
    assert due_of(w19, patient, PARIS).deadline == at(22, 9)


def test_held_says_what_run_would_skip_whatever_the_approval() -> None:
    due = due_of(week_period("2023-W19", PARIS), MONDAY_9, PARIS)
    assert held(due, stored("built"), MONDAY_9, at(15, 10)) is None
    thin = held(due, stored("approved", items=2), MONDAY_9, at(14, 10))
    assert thin is not None and thin.phrase == "run.thin"
    late = held(due, stored("approved"), MONDAY_9, at(17, 9, 1))
    assert late is not None and late.phrase == "run.late"
