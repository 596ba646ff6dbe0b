"""What the console's "Envoyer un test", "Approuver" and "Rapport" pages show, as data.

The same library as the command line: the approval's guards are `schedule.held` (what
`digest approve` asks), the figures `delivery.outcome.report` (what `digest report` prints),
the rows `delivery.outcome.deliveries`. Everything here is text ready to show, in the staff
language; the templates escape it. Nothing here writes to the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..config import Config
from ..delivery.outcome import DeliveryReport, deliveries, report
from ..delivery.retry import WENT_OUT
from ..i18n import N_, Messages, say, status_label
from ..period import week_period
from ..render.dates import day_label, period_label
from ..schedule import due_of, held, is_preview, item_count
from ..store import Store, StoredIssue
from ..store.outbox import SHOWN, Problem

PAGE = 100  # report rows per page
# A send is followed live while the issue is 'sending': the page reloads this often.
REFRESH_SECONDS = 15
FILTERS = ("sent", "waiting", "deferred", "failed", "gave_up", "bounced", "skipped")
FILTER_LABELS = {
    "": N_("console.shown_all"),
    "sent": N_("console.shown_sent"),
    "waiting": N_("console.shown_waiting"),
    "deferred": N_("console.shown_deferred"),
    "failed": N_("console.shown_failed"),
    "gave_up": N_("console.shown_gave_up"),
    "bounced": N_("console.shown_bounced"),
    "skipped": N_("console.shown_skipped"),
}
# A row's status, as the report's table says it.
ROW_LABELS = {
    "sent": N_("console.row_sent"),
    "pending": N_("console.row_waiting"),
    "sending": N_("console.row_waiting"),
    "deferred": N_("console.row_deferred"),
    "failed": N_("console.row_failed"),
    "bounced": N_("console.row_bounced"),
    "skipped": N_("console.row_skipped"),
}
# The last_error texts the outbox writes itself (digest/store/outbox.py), and DSN reports
# (digest/delivery/bounces.py): each gets its own plain explanation. (A row given up on
# says so in its own column, `gave_up`.)
_LEFT = "not sent: the subscriber left"
_DSN = "(DSN)"


@dataclass(frozen=True)
class IssueFacts:
    """The issue a page is about: what every one of these pages shows at the top."""

    issue_id: str
    week: str
    status: str  # the raw status: built, approved, sending, sent, skipped
    status_label: str
    items: int
    slot: str  # when `digest run` sends it, at the earliest
    deadline: str  # when `digest run` stops trying


@dataclass(frozen=True)
class Progress:
    """Where a send stands, from the outbox (what `digest report` counts)."""

    audience: int
    sent: int
    todo: int  # not tried yet (or in flight)
    deferred: int
    failed: int
    bounced: int
    running: bool  # the issue is 'sending': the page follows it

    @property
    def percent(self) -> int:
        return round(100 * self.sent / self.audience) if self.audience else 0


@dataclass(frozen=True)
class ApprovalView:
    facts: IssueFacts
    refusal: str  # why `digest approve` refuses it now, in plain words; "" if it does not
    warning: str  # approving freezes a mid-week preview; "" if not
    can_approve: bool
    progress: Progress


@dataclass(frozen=True)
class ReportLine:
    email: str
    status: str
    reason: str  # in plain words
    detail: str  # what the server said, as it said it
    attempts: int
    updated: str


@dataclass(frozen=True)
class ReportView:
    facts: IssueFacts
    progress: Progress
    shown: str  # the filter, "" for every row
    total: int  # rows under that filter
    lines: tuple[ReportLine, ...]
    page: int
    pages: int
    retryable: int = 0  # rows « Relancer les échecs » would send again (delivery/retry.py)


def issue_facts(config: Config, stored: StoredIssue, words: Messages) -> IssueFacts:
    tz = config.newsletter.tz
    due = due_of(week_period(stored.id, tz), config.schedule, tz)
    return IssueFacts(
        issue_id=stored.id,
        week=period_label(due.period, tz, words),
        status=stored.status,
        status_label=status_label(words.language, stored.status, of="issue"),
        items=item_count(stored),
        slot=moment(due.slot, tz, words),
        deadline=moment(due.deadline, tz, words),
    )


def moment(when: datetime, tz: ZoneInfo, words: Messages) -> str:
    day = day_label(when, tz, words, year=True)
    return say(words, "console.at", day=day, time=when.astimezone(tz).strftime("%H:%M"))


def progress(store: Store, stored: StoredIssue) -> Progress:
    return progress_of(report(store, stored.id), stored.status == "sending")


def progress_of(figures: DeliveryReport, running: bool) -> Progress:
    return Progress(
        figures.audience,
        figures.sent,
        figures.pending,
        figures.deferred,
        figures.failed,
        figures.bounced,
        running,
    )


# -- Approuver ------------------------------------------------------------------------------


def approval_view(
    config: Config, store: Store, stored: StoredIssue, words: Messages, now: datetime
) -> ApprovalView:
    """The issue as `digest approve` would judge it at `now`: the same guards."""
    tz = config.newsletter.tz
    due = due_of(week_period(stored.id, tz), config.schedule, tz)
    open_ = stored.status in ("built", "skipped")
    hold = held(due, stored, config.schedule, now) if open_ else None
    refusal = ""
    if hold is not None:
        fields = dict(hold.fields)
        if hold.phrase == "run.thin":
            refusal = say(words, "console.refused_thin", count=fields["count"],
                          minimum=fields["minimum"])  # fmt: skip
        else:
            refusal = say(words, "console.refused_late", deadline=moment(due.deadline, tz, words))
    warning = ""
    if stored.status in ("built", "skipped", "approved") and is_preview(stored, tz):
        built, end = moment(stored.built_at, tz, words), moment(due.period.end, tz, words)
        warning = say(words, "console.preview_warning", built=built, end=end)
    return ApprovalView(
        issue_facts(config, stored, words),
        refusal,
        warning,
        open_ and hold is None,
        progress(store, stored),
    )


# -- Rapport --------------------------------------------------------------------------------


def shown_filter(value: str) -> str:
    """The report's filter from the query string; anything unknown shows every row."""
    return value if value in SHOWN else ""


def report_view(
    config: Config,
    store: Store,
    stored: StoredIssue,
    words: Messages,
    shown: str,
    page: int,
    now: datetime,
) -> ReportView:
    total = store.delivery_count(stored.id, shown or None)
    pages = max(1, -(-total // PAGE))
    page = min(max(page, 1), pages)
    rows = deliveries(store, stored.id, shown or None, PAGE, (page - 1) * PAGE)
    tz = config.newsletter.tz
    return ReportView(
        issue_facts(config, stored, words),
        progress(store, stored),
        shown,
        total,
        tuple(_line(row, tz, words) for row in rows),
        page,
        pages,
        store.retryable(stored.id, now) if stored.status in WENT_OUT else 0,
    )


def _line(row: Problem, tz: ZoneInfo, words: Messages) -> ReportLine:
    kind = "bounced" if row.bounced else row.status
    updated = datetime.fromisoformat(row.updated_at) if row.updated_at else None
    return ReportLine(
        row.email,
        say(words, ROW_LABELS.get(kind, ROW_LABELS["pending"])),
        say(words, reason_key(row)),
        row.last_error,
        row.attempts,
        moment(updated, tz, words) if updated else "",
    )


def reason_key(row: Problem) -> str:
    """Why a row stands where it does, as a catalogue key: the server's own words are
    shown next to it, but staff should not need SMTP to read the report."""
    if row.status == "sent":
        return N_("console.why_sent")
    if row.status == "deferred":
        return N_("console.why_deferred")
    if row.status == "skipped":  # a reader whose themes had too little this week
        return N_("console.why_skipped")
    if row.status != "failed":
        return N_("console.why_waiting")
    if row.bounced:
        return N_("console.why_bounced")
    if row.last_error.startswith(_LEFT):
        return N_("console.why_left")
    if row.gave_up:
        return N_("console.why_gave_up")
    if _DSN in row.last_error:
        return N_("console.why_dsn")
    return N_("console.why_refused")
