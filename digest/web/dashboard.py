"""What the console's "Tableau de bord" shows, as data: the issue due next and what `digest
run` would do with it (the same schedule functions), the last issues with their delivery
figures (the same report as `digest report`), and the sources failing in the last builds.

Everything here is text ready to show, in the staff language; the template escapes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..config import Config
from ..delivery.outcome import report
from ..i18n import N_, Messages, say, status_label
from ..models import Period
from ..render.dates import day_label, period_label
from ..schedule import decide, due_issue, item_count
from ..store import Store, StoredIssue

RECENT = 6  # issues listed
# How `digest run` would treat the due issue, in a word (the decision's message says why).
VERDICTS = {
    "build": N_("console.verdict_build"),
    "wait": N_("console.verdict_wait"),
    "send": N_("console.verdict_send"),
    "skip": N_("console.verdict_skip"),
    "nothing": N_("console.verdict_nothing"),
}


@dataclass(frozen=True)
class DueView:
    issue_id: str
    week: str
    status: str
    deadline: str
    items: int | None  # None: not built yet
    verdict: str
    action: str  # build, wait, send, skip, nothing: the page's colour for it
    reason: str


@dataclass(frozen=True)
class IssueLine:
    issue_id: str
    week: str
    status: str
    items: int
    audience: int
    sent: int
    deferred: int
    failed: int
    bounced: int
    pending: int


@dataclass(frozen=True)
class FailingSource:
    name: str
    error: str
    since: str


@dataclass(frozen=True)
class Dashboard:
    due: DueView
    recent: tuple[IssueLine, ...]
    failing: tuple[FailingSource, ...]


def dashboard(store: Store, config: Config, words: Messages, now: datetime) -> Dashboard:
    recent = store.issues(RECENT)
    return Dashboard(
        due_view(store, config, words, now),
        tuple(_line(store, issue, config.newsletter.tz, words) for issue in recent),
        failing_sources(recent, config.newsletter.tz, words),
    )


def due_view(store: Store, config: Config, words: Messages, now: datetime) -> DueView:
    """The due issue as `digest run` sees it at `now`, and what it would do."""
    tz, schedule = config.newsletter.tz, config.schedule
    due = due_issue(schedule, tz, now)
    stored = store.issue(due.issue_id)
    decision = decide(due, stored, schedule, now, force=False)
    language = words.language
    return DueView(
        issue_id=due.issue_id,
        week=period_label(due.period, tz, words),
        status=_status(language, stored),
        deadline=_moment(due.deadline, tz, words),
        items=item_count(stored) if stored else None,
        verdict=say(words, VERDICTS[decision.action]),
        action=decision.action,
        reason=decision.message(language),
    )


def _status(language: str, stored: StoredIssue | None) -> str:
    if stored is None:
        return say(language, "console.not_built")
    return status_label(language, stored.status, of="issue")


def moment_text(moment: datetime, tz: ZoneInfo, words: Messages) -> str:
    """ "lundi 4 mai 2026 à 09:00": a moment as the console's pages write it."""
    return _moment(moment, tz, words)


def _moment(moment: datetime, tz: ZoneInfo, words: Messages) -> str:
    day = day_label(moment, tz, words, year=True)
    return say(words, "console.at", day=day, time=moment.astimezone(tz).strftime("%H:%M"))


def _line(store: Store, issue: StoredIssue, tz: ZoneInfo, words: Messages) -> IssueLine:
    figures = report(store, issue.id)
    period = Period(issue.id, issue.period_start, issue.period_end)
    return IssueLine(
        issue.id,
        period_label(period, tz, words),
        status_label(words.language, issue.status, of="issue"),
        item_count(issue),
        figures.audience,
        figures.sent,
        figures.deferred,
        figures.failed,
        figures.bounced,
        figures.pending,
    )


def failing_sources(
    recent: list[StoredIssue], tz: ZoneInfo, words: Messages
) -> tuple[FailingSource, ...]:
    """The sources that failed in the latest build, each with its error and the build it
    has failed since (without a break, going back through the recent builds)."""
    runs = [(issue.built_at, _errors(issue)) for issue in recent]
    if not runs:
        return ()
    found = []
    for name, error in runs[0][1].items():
        since = runs[0][0]
        for built_at, errors in runs[1:]:
            if name not in errors:
                break
            since = built_at
        found.append(FailingSource(name, error, _moment(since, tz, words)))
    return tuple(found)


def _errors(issue: StoredIssue) -> dict[str, str]:
    """Each failed source of a stored issue's digest.json, with its error."""
    sources = json.loads(issue.data).get("sources", [])
    return {s["name"]: s.get("error") or "" for s in sources if s.get("status") == "error"}
