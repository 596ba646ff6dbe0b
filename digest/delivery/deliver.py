"""Delivery: send a stored issue to its frozen audience through the outbox (DESIGN.md §5).

    send_issue(config, store, issue_id, clock, smtp=..., keys=...) -> DeliveryReport
    report(store, issue_id) -> DeliveryReport

The first run of an issue freezes its audience (one outbox row per confirmed subscriber,
with its Message-ID) and records its items as sent, in the store, before anything is sent.
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
import itertools
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..chars import remove_control_chars
from ..config import Config
from ..errors import DeliveryError, StoreError, UsageError
from ..i18n import current_staff_language, say, staff_language, status_label, t
from ..period import unknown_issue_hint, week_period
from ..schedule import Due, due_of, is_preview
from ..store import Store, StoredIssue
from ..store.outbox import OutboxRow, Outcome, Problem
from ..tokens import Keys, unsubscribe_url
from .message import MessageTemplate, Recipient, build_template, clean_header, sender_domain
from .pool import Pause, Pool, RateLimiter
from .replies import Result
from .smtp import SmtpSettings
from .stopping import Notify, Stop, catching_signals

# A built or skipped issue is sent only when asked by name: `digest send --issue`, or
# `digest run --force`; `digest run` itself sends approved ones.
SENDABLE = ("built", "approved", "skipped", "sending", "sent")
MAX_WAITS = 5  # in-run waits for due retries, at most: a run always ends

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]


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


def problems(store: Store, issue_id: str) -> Iterator[Problem]:
    """The deferred, failed and bounced rows of `digest report`, fit for a terminal: what a
    server or a DSN said may hold escape sequences (a forged bounce can retitle a terminal),
    and none of it reaches the screen or the CSV."""
    for p in store.problems(issue_id):
        yield Problem(
            remove_control_chars(p.email), remove_control_chars(p.status), p.attempts,
            remove_control_chars(p.last_error), p.bounced, remove_control_chars(p.updated_at),
        )  # fmt: skip


def report(store: Store, issue_id: str) -> DeliveryReport:
    counts = store.outbox_counts(issue_id)
    return DeliveryReport(
        issue_id=issue_id,
        audience=sum(counts[s] for s in ("pending", "sending", "sent", "deferred", "failed")),
        sent=counts["sent"],
        deferred=counts["deferred"],
        failed=counts["failed"],
        bounced=counts["bounced"],
        pending=counts["pending"] + counts["sending"],
    )


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
        _utc(clock),
    )  # fmt: skip
    stop = stop or Stop()
    with catching_signals(stop, on_stop):
        store.durable()
        start(config, store, stored, _utc(clock))
        run = _Run(config, store, issue_id, clock, template, keys, on_progress, stop)
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
    """First run: its items count as sent, and the audience is frozen. Later runs: rows a
    crashed run left in flight go back to pending, with their Message-ID."""
    if stored.status == "sending":
        store.release_in_flight(stored.id, now)
        return
    domain = sender_domain(config)
    store.mark_sent(stored.id, item_keys(stored.data), now)
    store.freeze_audience(stored.id, domain, now)


def item_keys(data: str) -> list[str]:
    """The keys of every item in a stored digest.json: featured, sections, agenda."""
    issue: dict[str, Any] = json.loads(data)
    blocks = [issue.get("featured"), *issue.get("sections", []), issue.get("agenda")]
    return [item["key"] for block in blocks if block for item in block.get("items", [])]


def issue_subject(store: Store, stored: StoredIssue, config: Config) -> str:
    """The subject as rendered; for an issue stored before subjects were, its <title>."""
    subject = store.issue_subject(stored.id)
    if not subject:
        found = re.search(r"<title>(.*?)</title>", stored.html, re.S | re.I)
        subject = html.unescape(found[1]) if found else ""
    return clean_header(subject) or clean_header(f"{config.newsletter.title} — {stored.id}")


def backoff(attempts: int, base: float, ceiling: float, rng: random.Random) -> float:
    """Seconds before the next try: base·2^(attempts-1), capped, half of it random."""
    delay = min(ceiling, base * 2.0 ** min(attempts - 1, 30))
    return delay / 2 + rng.uniform(0, delay / 2)


class _Run:
    """One run over an issue's outbox."""

    def __init__(
        self,
        config: Config,
        store: Store,
        issue_id: str,
        clock: Clock,
        template: MessageTemplate,
        keys: Keys,
        on_progress: Progress | None,
        stop: Stop,
    ) -> None:
        self.config, self.store, self.issue_id = config, store, issue_id
        self.settings = config.delivery
        self.clock, self.template, self.keys = clock, template, keys
        self.on_progress = on_progress
        self.stop = stop
        self.rng = random.Random()
        self.deadline = timedelta(hours=self.settings.retry_hours)
        self.later: str | None = None
        self.unwritten: list[Result] = []  # results the store could not take (yet)

    def now(self) -> datetime:
        return _utc(self.clock)

    def deliver(self, smtp: SmtpSettings) -> Pause | None:
        """Send every due row, batch by batch, each result written as soon as it comes; the
        pause, if the server paused us. Returns early when `stop` is requested."""
        self.expire()
        limiter = self._limiter()
        progress = _Counter(report(self.store, self.issue_id), self.on_progress)
        batches = self._batches()
        first = next(batches, None)
        if first is None:
            return None  # nothing due: no need to reach the mail server
        pool = Pool(smtp, self.settings.connections, limiter, self.template.sender, self.stop)
        self._open(pool, first)
        try:
            judged = self._send_all(pool, itertools.chain([first], batches), progress)
            if not self.stop.at_once:  # at once: held rows stay 'sending', tried again
                self._record(pool.settle(judged))
        except StoreError as exc:
            raise self._unwritable(pool, exc) from exc
        finally:
            pool.close(wait=not self.stop.at_once)
        if pool.quota_reached and not pool.paused:
            self.later = self._quota_note()
        return pool.paused

    def _send_all(self, pool: Pool, batches: Iterator[list[OutboxRow]], progress: _Counter) -> bool:
        """Send batch after batch; True when every due row was tried (not paused, stopped
        or left to a quota)."""
        for rows in batches:
            for results in pool.send(rows, self.render):
                self._record(results)
                progress.add(sum(r.kind not in ("untried", "halted") for r in results))
            if pool.paused or pool.quota_reached or self.stop.requested:
                return False
        return not self.stop.requested

    def _unwritable(self, pool: Pool, error: StoreError) -> StoreError:
        """The store cannot be written (a full disk): send nothing more, try once more to
        write what the server answered, and say what the next run will do."""
        pool.halt()
        results = self.unwritten + pool.drain() + pool.settle(judged=False)
        self.unwritten = []
        self.store.make_room()
        lost: list[Result] = []
        # The accepted ones first, on their own: they are what a resume would send twice,
        # and marking a row 'sent' makes it no bigger, so it may fit where the rest did not.
        for part in ([r for r in results if r.kind == "sent"],
                     [r for r in results if r.kind != "sent"]):  # fmt: skip
            try:
                self._record(part)
            except StoreError:
                lost += self.unwritten
                self.unwritten = []
        accepted = sum(r.kind == "sent" for r in lost)
        if accepted == 1:
            again = t("delivery.error.full_lost_one")
        elif accepted:
            again = t("delivery.error.full_lost", count=accepted)
        else:
            again = t("delivery.error.full_recorded")
        return StoreError(
            t("delivery.error.full", issue=self.issue_id, error=error.message),
            hint=t("delivery.error.full_hint", store=self.store.path, again=again),
        )

    def _quota_note(self) -> str:
        s, language = self.settings, staff_language(self.config)
        if s.per_hour:
            quota = say(language, "delivery.per_hour", count=s.per_hour)
        else:
            quota = say(language, "delivery.per_minute", count=s.per_minute)
        wait = f"{s.retry_wait:g}"
        return say(language, "delivery.quota", quota=quota, wait=wait)

    def _limiter(self) -> RateLimiter:
        s = self.settings
        limiter = RateLimiter(
            s.rate, s.per_minute, s.per_hour, sleep=self.stop.sleep, max_wait=s.retry_wait
        )
        if s.per_hour or s.per_minute:  # a quota is the provider's, not this run's
            now = self.now()
            span = 3600 if s.per_hour else 60
            sent = self.store.sent_since(now - timedelta(seconds=span))
            limiter.seed([(now - when).total_seconds() for when in sent])
        return limiter

    def _open(self, pool: Pool, claimed: list[OutboxRow]) -> None:
        """Open the connections; if the server cannot be reached, `claimed` is released."""
        try:
            pool.open()
        except DeliveryError:
            self._record([Result(row, "untried") for row in claimed])
            raise

    def _batches(self) -> Iterator[list[OutboxRow]]:
        waits = 0
        while not self.stop.requested:
            rows = self.store.claim(self.issue_id, self.now(), self.settings.batch)
            if rows:
                yield rows
                continue
            wait = self._retry_wait()
            if wait is None or waits >= MAX_WAITS:
                return
            waits += 1
            self.stop.sleep(wait)

    def _retry_wait(self) -> float | None:
        """Seconds until the next deferred row is due, if this run should wait for it."""
        due = self.store.next_retry(self.issue_id)
        if due is None:
            return None
        wait = (due - self.now()).total_seconds()
        return max(wait, 0.0) if wait <= self.settings.retry_wait else None

    def render(self, row: OutboxRow) -> bytes:
        url = unsubscribe_url(self.config, row.subscriber_id, self.keys)
        return self.template.render(Recipient(row.email, row.message_id, url))

    def _record(self, results: list[Result]) -> None:
        """Write `results` (and any the store could not take before) in one commit."""
        results, self.unwritten = self.unwritten + results, []
        if not results:
            return
        now = self.now()
        try:
            self.store.record(self.issue_id, [self._outcome(r, now) for r in results], now)
        except StoreError:
            self.unwritten = results
            raise
        for result in results:
            if result.kind == "bounce":
                self.store.change_status(
                    result.row.subscriber_id, "bounced", ("confirmed",), now,
                    event="bounce", source="delivery",
                )  # fmt: skip

    def _outcome(self, result: Result, now: datetime) -> Outcome:
        row = result.row
        if result.kind == "untried":
            return Outcome(row.subscriber_id, "pending", tried=False)
        if result.kind == "halted":  # the sender or the message refused: not this address
            return Outcome(row.subscriber_id, "pending", result.reply, tried=False)
        if result.kind == "sent":
            return Outcome(row.subscriber_id, "sent")
        if result.kind == "paused":  # due again at once: the pause itself is the wait
            return Outcome(row.subscriber_id, "deferred", result.reply, next_attempt_at=now)
        if result.kind in ("fail", "bounce"):
            return Outcome(
                row.subscriber_id, "failed", result.reply, bounced=result.kind == "bounce"
            )
        s = self.settings
        retry = now + timedelta(
            seconds=backoff(row.attempts + 1, s.retry_base, s.retry_max, self.rng)
        )
        if row.created_at is not None and retry > row.created_at + self.deadline:
            why = f"gave up after {row.attempts + 1} attempts: {result.reply}"
            return Outcome(row.subscriber_id, "failed", why)
        return Outcome(row.subscriber_id, "deferred", result.reply, next_attempt_at=retry)

    def expire(self) -> None:
        now = self.now()
        self.store.expire_deferred(self.issue_id, now - self.deadline, now)


class _Counter:
    """Progress without re-counting the outbox after each batch (that would be quadratic)."""

    def __init__(self, start: DeliveryReport, on_progress: Progress | None) -> None:
        self.done, self.total = start.sent + start.failed, start.audience
        self.on_progress = on_progress

    def add(self, tried: int) -> None:
        self.done = min(self.total, self.done + tried)  # a retried row counts once at most
        if self.on_progress:
            self.on_progress(self.done, self.total)


def _utc(clock: Clock) -> datetime:
    """Outbox times are compared as text: keep them all in UTC."""
    return clock().astimezone(UTC)
