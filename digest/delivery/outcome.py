"""Where an issue's delivery stands, and the errors a run ends with.

report(store, issue_id) -> DeliveryReport
problems(store, issue_id) -> the deferred, failed and bounced rows, fit for a terminal
deliveries(store, issue_id, shown) -> every row (or one filter's), as clean
write_csv(out, rows) -> the report as CSV, as `digest report --format csv` prints it
cut_report(store, issue_id) -> who got which sections: one CutReport per cut
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from ..chars import remove_control_chars
from ..errors import DeliveryError
from ..i18n import t
from ..render.cuts import WHOLE, key_sections
from ..spreadsheet import guarded
from ..store import Store
from ..store.outbox import Problem
from .stopping import Stop


@dataclass(frozen=True)
class DeliveryReport:
    """Where an issue's delivery stands: outbox rows by outcome."""

    issue_id: str
    audience: int
    sent: int
    deferred: int
    failed: int
    bounced: int  # among `failed`: the address was suppressed (5.1.x)
    pending: int  # not tried yet, or caught in flight by a crash
    # Readers whose cut was too thin that week (their themes had too few items): not sent,
    # not failed (delivery/cuts.py).
    skipped: int = 0
    paused: str | None = None  # why the run paused (the server's reply), if it did
    advice: str | None = None  # what to do about that pause
    # Why this run left pending rows to a later one without any error: a quota used up.
    later: str | None = None

    @property
    def left(self) -> int:
        """Addresses that have not got it yet and may still: pending or deferred."""
        return self.pending + self.deferred

    @property
    def done(self) -> bool:
        """Nothing left to try: every row is sent or failed."""
        return self.pending == 0 and self.deferred == 0

    @property
    def refused_everything(self) -> bool:
        """The server refused every message it was given and accepted none: the job failed."""
        return self.failed > 0 and self.sent == 0

    def raise_for_outcome(self) -> None:
        """Raise DeliveryRefused when the run failed as a whole (DESIGN §3: exit 1).

        One rule for every command that sends (`digest send`, `digest run`), as httpx's
        `raise_for_status`: the caller prints the report first, then asks.
        """
        if self.refused_everything:
            raise DeliveryRefused(self)


class DeliveryPaused(DeliveryError):
    """The server asked us to stop (421, policy, rate limit), refused something that is not
    about one recipient (relay, sender, the message), or went away; `report` says what was
    done. Nobody's status changed for it; a later run carries on."""

    def __init__(self, report: DeliveryReport) -> None:
        advice = f"{report.advice}. " if report.advice else ""
        super().__init__(
            t("delivery.error.paused", issue=report.issue_id, reason=report.paused),
            hint=t("delivery.error.paused_hint", advice=advice, sent=report.sent, left=report.left),
        )
        self.report = report


class DeliveryInterrupted(DeliveryError):
    """SIGINT or SIGTERM stopped the run; what the server accepted is recorded. The exit
    code is the shell's for that signal: 130 (Ctrl-C) or 143 (SIGTERM)."""

    def __init__(self, report: DeliveryReport, stop: Stop) -> None:
        again = t("delivery.error.in_flight") if stop.at_once else t("delivery.error.nobody_twice")
        super().__init__(
            t("delivery.error.stopped", issue=report.issue_id, signal=stop.name),
            hint=t("delivery.error.stopped_hint", sent=report.sent, left=report.left, again=again),
        )
        self.exit_code = stop.exit_code
        self.report = report


class DeliveryRefused(DeliveryError):
    """Every message tried was refused and none accepted; `report` says what was done."""

    def __init__(self, report: DeliveryReport) -> None:
        super().__init__(
            t("delivery.error.refused_all", issue=report.issue_id),
            hint=t("delivery.error.refused_all_hint", issue=report.issue_id),
        )
        self.report = report


CSV_COLUMNS = ("email", "status", "bounced", "attempts", "last_error", "updated_at")


def problems(store: Store, issue_id: str) -> Iterator[Problem]:
    """The deferred, failed and bounced rows of `digest report`, fit for a terminal: what a
    server or a DSN said may hold escape sequences (a forged bounce can retitle a terminal),
    and none of it reaches the screen or the CSV."""
    return map(_clean, store.problems(issue_id))


def deliveries(
    store: Store, issue_id: str, shown: str | None = None, limit: int = -1, offset: int = 0
) -> Iterator[Problem]:
    """Every row of the issue's outbox, or those of one filter (sent, waiting, deferred,
    failed, gave_up, bounced), by address, as clean as `problems`: the console's report."""
    return map(_clean, store.deliveries(issue_id, shown, limit, offset))


def _clean(p: Problem) -> Problem:
    return Problem(
        remove_control_chars(p.email), remove_control_chars(p.status), p.attempts,
        remove_control_chars(p.last_error), p.bounced, remove_control_chars(p.updated_at),
        p.gave_up,
    )  # fmt: skip


def write_csv(out: TextIO, rows: Iterable[Problem]) -> None:
    """The report as CSV (`digest report --format csv`, the console's export): a header row,
    then one row per address. The address as it is (never guarded: spreadsheet.py says
    why); the error, a remote server's free text, guarded against formulas."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in rows:
        status = "bounced" if p.bounced else p.status
        writer.writerow(
            [p.email, status, int(p.bounced), p.attempts, guarded(p.last_error), p.updated_at]
        )


def report(store: Store, issue_id: str) -> DeliveryReport:
    counts = store.outbox_counts(issue_id)
    return DeliveryReport(
        issue_id=issue_id,
        audience=sum(
            counts[s] for s in ("pending", "sending", "sent", "deferred", "failed", "skipped")
        ),
        sent=counts["sent"],
        deferred=counts["deferred"],
        failed=counts["failed"],
        bounced=counts["bounced"],
        pending=counts["pending"] + counts["sending"],
        skipped=counts["skipped"],
    )


@dataclass(frozen=True)
class CutReport:
    """The readers of one cut of an issue (render/cuts.py), and what became of them."""

    cut: str  # '' = the whole issue
    sections: tuple[str, ...]  # the cut's own sections (empty for the whole issue)
    readers: int  # every outbox row of the cut, skipped ones included
    sent: int
    skipped: int  # too thin that week: nothing for their themes

    @property
    def whole(self) -> bool:
        return self.cut == WHOLE


def cut_report(store: Store, issue_id: str) -> list[CutReport]:
    """Who got which sections: the whole issue first, then the cuts by readers, most first."""
    rows: dict[str, dict[str, int]] = {}
    for count in store.cut_counts(issue_id):
        rows.setdefault(count.cut, {})[count.status] = count.count
    cuts = [
        CutReport(
            cut,
            () if cut == WHOLE else key_sections(cut),
            sum(by_status.values()),
            by_status.get("sent", 0),
            by_status.get("skipped", 0),
        )
        for cut, by_status in rows.items()
    ]
    return sorted(cuts, key=lambda c: (not c.whole, -c.readers, c.cut))


def section_readers(cuts: list[CutReport], sections: Sequence[str]) -> dict[str, int]:
    """How many readers were sent each of the issue's `sections` (its theme ids, in order):
    a reader of the whole issue got every one, a reader of a cut its own."""
    got = dict.fromkeys(sections, 0)
    for cut in cuts:
        for section in sections if cut.whole else cut.sections:
            if section in got:
                got[section] += cut.sent
    return got
