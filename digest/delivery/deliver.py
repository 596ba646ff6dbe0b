"""Delivery: send a stored issue to its frozen audience through the outbox (DESIGN.md §5).

    send_issue(config, store, issue_id, clock, smtp=..., keys=...) -> DeliveryReport
    report(store, issue_id) -> DeliveryReport (outcome.py)

This module chooses and starts the issue; batches.py is the run loop; pool.py the SMTP
connections; replies.py what each reply means.

The first run of an issue freezes its audience (one outbox row per confirmed subscriber,
with its Message-ID and its cut: the sections that reader chose, cuts.py) and records its
items as sent, in the store, before anything is sent.
Then, batch after batch: mark N rows 'sending' (commit), send them, and write each result
as soon as the server answered (a commit for whatever came in meanwhile). A crash or a full
disk therefore re-sends only the few messages whose reply was not yet written, with the
same Message-IDs; a 'sent' row is never sent again, and no row is skipped. The caller holds
the run lock.

Replies (replies.py): 4xx → deferred (exponential back-off with jitter, retried in this run
when due within `delivery.retry_wait`, else by a later run, until `delivery.retry_hours`
after the audience was frozen: then failed); a 5xx clearly about the mailbox (5.1.x, "user
unknown") → failed and the subscriber `bounced`; another 5xx about the recipient → failed.
A refusal that is not about one recipient (421, a policy, relaying or the sender refused,
the message refused at DATA, the same 5xx for several addresses in a row) pauses the run
(DeliveryPaused, exit 1) after committing what was done, and blames nobody; a policy reply
to an address tried before is deferred instead (pool.py). A quota (`per_minute`,
`per_hour`) that would keep the run waiting more than `retry_wait` ends it quietly: the
rest stays pending (`later`). SIGINT or SIGTERM stops it cleanly (stopping.py):
DeliveryInterrupted, exit 130 or 143, what the server accepted recorded.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..config import Config
from ..errors import DeliveryError, UsageError
from ..i18n import current_staff_language, status_label, t
from ..period import unknown_issue_hint, week_period
from ..schedule import Due, due_of, is_preview
from ..store import Store, StoredIssue
from ..tokens import Keys
from . import cuts
from .batches import Clock, Progress, Run, backoff, utc
from .message import build_template, clean_header, sender_domain
from .outcome import (
    CutReport,
    DeliveryInterrupted,
    DeliveryPaused,
    DeliveryRefused,
    DeliveryReport,
    cut_report,
    problems,
    report,
    section_readers,
)
from .smtp import SmtpSettings
from .stopping import Notify, Stop, catching_signals

# What callers of this module have always imported from it (the CLI, tests, the bench).
__all__ = [
    "Clock",
    "CutReport",
    "DeliveryInterrupted",
    "DeliveryPaused",
    "DeliveryRefused",
    "DeliveryReport",
    "Progress",
    "backoff",
    "cut_report",
    "default_issue",
    "default_test_issue",
    "problems",
    "report",
    "section_ids",
    "section_readers",
    "send_issue",
]

# A built or skipped issue is sent only when asked by name: `digest send --issue`, or
# `digest run --force`; `digest run` itself sends approved ones.
SENDABLE = ("built", "approved", "skipped", "sending", "sent")


def send_issue(
    config: Config,
    store: Store,
    issue_id: str,
    clock: Clock,
    *,
    smtp: SmtpSettings,
    keys: Keys,
    on_progress: Progress | None = None,
    on_stop: Notify | None = None,
    stop: Stop | None = None,
) -> DeliveryReport:
    """Send (or go on sending) `issue_id`.

    Raises DeliveryPaused when the server pauses it, DeliveryInterrupted when SIGINT or
    SIGTERM stops it (while it runs, in the main thread, they only set `stop`, and call
    `on_stop` to say so), StoreError when the store cannot be written (a full disk): then
    nothing more is sent.
    """
    stored = sendable_issue(store, issue_id)
    if stored.status == "sent":
        return report(store, issue_id)
    # The message first: a config problem (sender, DKIM key) must not freeze an audience.
    template = build_template(
        config, issue_id, issue_subject(store, stored, config), stored.html, stored.text,
        utc(clock),
    )  # fmt: skip
    stop = stop or Stop()
    with catching_signals(stop, on_stop):
        store.durable()
        start(config, store, stored, utc(clock))
        by_cut = cuts.templates(config, store, issue_id, template, utc(clock))
        run = Run(config, store, issue_id, clock, by_cut, keys, on_progress, stop)
        paused = run.deliver(smtp)
        if stop.requested:
            raise DeliveryInterrupted(report(store, issue_id), stop)
        run.expire()
        store.finish_issue(issue_id)
    result = replace(report(store, issue_id), later=run.later)
    if paused:
        raise DeliveryPaused(replace(result, paused=paused.reason, advice=paused.advice or None))
    return result


@dataclass(frozen=True)
class DefaultIssue:
    """The issue `digest send` means without --issue (None: nothing to send), and the
    approved ones it passed over because their deadline is gone (newest first)."""

    issue: StoredIssue | None
    passed_over: tuple[Due, ...] = ()


def default_issue(config: Config, store: Store, now: datetime) -> DefaultIssue:
    """The newest issue being sent, or approved and not past the deadline `digest run` keeps
    to. An approved issue weeks old is sent only when named (--issue)."""
    tz, passed = config.newsletter.tz, []
    for stored in store.issues_with(("approved", "sending")):
        due = due_of(week_period(stored.id, tz), config.schedule, tz)
        if stored.status == "approved" and now > due.deadline:
            passed.append(due)
            continue
        return DefaultIssue(stored, tuple(passed))
    return DefaultIssue(None, tuple(passed))


def default_test_issue(config: Config, store: Store) -> StoredIssue | None:
    """The issue a test copy is of without --issue: the newest one not yet sent, preferring
    one built once its week was over (what staff review) to a newer mid-week preview (what a
    bare `digest build` makes)."""
    unsent = store.issues_with(("built", "approved", "sending"))
    complete = [i for i in unsent if not is_preview(i, config.newsletter.tz)]
    return next(iter(complete or unsent), None)


def sendable_issue(store: Store, issue_id: str) -> StoredIssue:
    stored = store.issue(issue_id)
    if stored is None:
        raise UsageError(
            t("delivery.error.no_issue", issue=issue_id), hint=unknown_issue_hint(issue_id)
        )
    if stored.status not in SENDABLE:
        raise DeliveryError(
            t(
                "delivery.error.not_sendable",
                issue=issue_id,
                status=status_label(current_staff_language(), stored.status, of="issue"),
            ),
            hint=t("delivery.error.not_sendable_hint"),
        )
    return stored


def start(config: Config, store: Store, stored: StoredIssue, now: datetime) -> None:
    """First run: its items count as sent, and the audience is frozen with each reader's
    cut. Later runs: rows a crashed run left in flight go back to pending, with their
    Message-ID and their cut."""
    if stored.status == "sending":
        store.release_in_flight(stored.id, now)
        return
    domain = sender_domain(config)
    # One transaction: a cut that fails to render leaves no item counted as sent.
    with store.transaction():
        store.mark_sent(stored.id, item_keys(stored.data), now)
        cuts.freeze(config, store, stored, domain, now)


def item_keys(data: str) -> list[str]:
    """The keys of every item in a stored digest.json: featured, sections, agenda."""
    issue: dict[str, Any] = json.loads(data)
    blocks = [issue.get("featured"), *issue.get("sections", []), issue.get("agenda")]
    return [item["key"] for block in blocks if block for item in block.get("items", [])]


def section_ids(data: str) -> list[str]:
    """The theme ids of a stored digest.json's sections, in order."""
    issue: dict[str, Any] = json.loads(data)
    return [section["theme"] for section in issue.get("sections", [])]


def issue_subject(store: Store, stored: StoredIssue, config: Config) -> str:
    """The subject as rendered; for an issue stored before subjects were, its <title>."""
    subject = store.issue_subject(stored.id)
    if not subject:
        found = re.search(r"<title>(.*?)</title>", stored.html, re.S | re.I)
        subject = html.unescape(found[1]) if found else ""
    return clean_header(subject) or clean_header(f"{config.newsletter.title} — {stored.id}")
