"""One run over an issue's outbox: claim a batch, send it through the pool, write each
result as the server answers, wait for due retries within `delivery.retry_wait`.

    Run(config, store, issue_id, clock, templates, keys, on_progress, stop).deliver(smtp)

What each reply becomes (sent, deferred with back-off, failed, bounced, pending) is decided
here, from the pool's `Result`s; `deliver.send_issue` wraps a run with the audience freeze
and the signals.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta

from ..config import Config
from ..errors import DeliveryError, StoreError
from ..i18n import say, staff_language, t
from ..store import Store
from ..store.outbox import OutboxRow, Outcome
from ..tokens import Keys, preferences_url, unsubscribe_url
from .message import MessageTemplate, Recipient
from .outcome import DeliveryReport, report
from .pool import Pause, Pool, RateLimiter
from .replies import Result
from .smtp import SmtpSettings
from .stopping import Stop

MAX_WAITS = 5  # in-run waits for due retries, at most: a run always ends

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]


def backoff(attempts: int, base: float, ceiling: float, rng: random.Random) -> float:
    """Seconds before the next try: base·2^(attempts-1), capped, half of it random."""
    delay = min(ceiling, base * 2.0 ** min(attempts - 1, 30))
    return delay / 2 + rng.uniform(0, delay / 2)


class Run:
    """One run over an issue's outbox."""

    def __init__(
        self,
        config: Config,
        store: Store,
        issue_id: str,
        clock: Clock,
        templates: Mapping[str, MessageTemplate],
        keys: Keys,
        on_progress: Progress | None,
        stop: Stop,
    ) -> None:
        self.config, self.store, self.issue_id = config, store, issue_id
        self.settings = config.delivery
        # The message of each cut ('' = the whole issue), built before any thread sends.
        self.clock, self.templates, self.keys = clock, templates, keys
        self.template = templates[""]
        self.on_progress = on_progress
        self.stop = stop
        self.rng = random.Random()
        self.deadline = timedelta(hours=self.settings.retry_hours)
        self.later: str | None = None
        self.unwritten: list[Result] = []  # results the store could not take (yet)
        # The preference links' issue time: once per run, not a clock read per message.
        self.issued = self.now()

    def now(self) -> datetime:
        return utc(self.clock)

    def deliver(self, smtp: SmtpSettings) -> Pause | None:
        """Send every due row, batch by batch, each result written as soon as it comes; the
        pause, if the server paused us. Returns early when `stop` is requested."""
        self.expire()
        limiter = self._limiter()
        progress = ProgressCounter(report(self.store, self.issue_id), self.on_progress)
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

    def _send_all(
        self, pool: Pool, batches: Iterator[list[OutboxRow]], progress: ProgressCounter
    ) -> bool:
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
        preferences = preferences_url(self.config, row.subscriber_id, self.issued, self.keys)
        recipient = Recipient(row.email, row.message_id, url, preferences)
        return self.templates[row.cut].render(recipient)

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
            return Outcome(row.subscriber_id, "failed", why, gave_up=True)
        return Outcome(row.subscriber_id, "deferred", result.reply, next_attempt_at=retry)

    def expire(self) -> None:
        now = self.now()
        self.store.expire_deferred(self.issue_id, now - self.deadline, now)


class ProgressCounter:
    """Progress without re-counting the outbox after each batch (that would be quadratic)."""

    def __init__(self, start: DeliveryReport, on_progress: Progress | None) -> None:
        self.done, self.total = start.sent + start.failed + start.skipped, start.audience
        self.on_progress = on_progress

    def add(self, tried: int) -> None:
        self.done = min(self.total, self.done + tried)  # a retried row counts once at most
        if self.on_progress:
            self.on_progress(self.done, self.total)


def utc(clock: Clock) -> datetime:
    """Outbox times are compared as text: keep them all in UTC."""
    return clock().astimezone(UTC)
