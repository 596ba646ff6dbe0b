"""The SMTP side of delivery: a few reused connections in threads, a rate limit, and what
each reply does to the run.

    with Pool(settings, size, limiter, sender, stop) as pool:
        for results in pool.send(rows, render): ...   # as the server answers
        pool.settle(judged) -> list[Result]           # the refusals still held

smtplib blocks, so each connection has its own thread; a batch is shared out between them
and `send` yields results as they come, so that the caller records each message as soon as
the server answered it (a crash, a full disk or a signal then re-sends almost nothing).
What a reply means is replies.py's rule. A reply that pauses the run (421, a policy, the
relay refusing the sender, the message, or everyone) sets `paused`: the jobs not yet tried
come back 'untried'; a policy reply to an address tried before is deferred instead (that
address's own refusal). Permanent refusals wait in a `Streak` until they cannot be the relay
refusing everyone. A dropped connection is reopened and the message in flight is tried once
more, as is (same bytes, same Message-ID); if the server cannot be reached again, or takes
longer than its timeout to answer one command, the pool pauses.
"""

from __future__ import annotations

import collections
import itertools
import math
import queue
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from types import TracebackType

from ..chars import remove_control_chars
from ..errors import DeliveryError
from ..i18n import t
from ..store.outbox import OutboxRow
from .replies import Result, Stage, Streak, about_us, classify, without_address
from .smtp import CommandTimeout, SmtpConnection, SmtpSettings
from .stopping import Stop

POLL = 0.2  # seconds between two looks at a stop asked "at once", while waiting for replies
# Replies that come within this many seconds of one another are written in one commit:
# a commit per message would cost more than sending it (each one is fsynced). At most this
# window's worth of accepted messages can go twice after a kill -9 or a power cut.
GATHER = 0.01


@dataclass(frozen=True)
class Pause:
    """Why the run paused (the server's words) and what to do about it."""

    reason: str
    advice: str = ""


class RateLimiter:
    """At most `rate` messages a second, `per_minute` a minute and `per_hour` an hour (0: any).

    Shared by the pool's threads. The windows slide; `seed` adds what earlier runs sent.
    A run waits for a slot at most `max_wait` seconds: a quota that needs longer (an hourly
    one, used up) is left to a later run rather than held, lock and all, for up to an hour.
    """

    def __init__(
        self,
        rate: float = 0.0,
        per_minute: int = 0,
        per_hour: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = math.inf,
    ) -> None:
        self.clock, self.sleep = clock, sleep
        self.max_wait = max_wait
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.windows = [(60.0, per_minute), (3600.0, per_hour)]
        self.windows = [(span, limit) for span, limit in self.windows if limit > 0]
        self.sent: dict[float, collections.deque[float]] = {
            s: collections.deque() for s, _ in self.windows
        }
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def seed(self, ages: list[float]) -> None:
        """Messages sent `ages` seconds ago (by an earlier run) count in the windows."""
        now = self.clock()
        for span, _ in self.windows:
            self.sent[span].extend(sorted(now - age for age in ages if age < span))

    def acquire(self) -> bool:
        """Wait until one more message is allowed, and count it; False (nothing counted, no
        wait) when that would mean waiting more than `max_wait` seconds."""
        if not self.interval and not self.windows:
            return True
        with self.lock:  # holding it while waiting keeps the order fair across threads
            now = self.clock()
            at = max(now, self.next_slot)
            for span, limit in self.windows:
                times = self.sent[span]
                while times and times[0] <= at - span:
                    times.popleft()
                if len(times) >= limit:
                    at = max(at, times[len(times) - limit] + span)
            if at - now > self.max_wait:
                return False
            self.next_slot = at + self.interval
            for span, _ in self.windows:
                self.sent[span].append(at)
            delay = at - self.clock()
            if delay > 0:
                self.sleep(delay)
        return True


Render = Callable[[OutboxRow], bytes]


def _rendered(row: OutboxRow, render: Render) -> bytes | Result:
    """The row's message, or a failure if this one address cannot make a safe message."""
    try:
        return render(row)
    except DeliveryError as exc:
        return Result(row, "fail", f"not sent: {exc.message}")


class Pool:
    """`size` SMTP connections, each in its own thread. Use as a context manager."""

    def __init__(
        self,
        settings: SmtpSettings,
        size: int,
        limiter: RateLimiter,
        sender: str,
        stop: Stop | None = None,
    ) -> None:
        self.settings = settings
        self.size = size
        self.limiter = limiter
        self.sender = sender
        self.stop = stop or Stop()
        self.paused: Pause | None = None
        self.quota_reached = False  # the limiter's quota needs a later run: stop, fail no one
        self.stopping = False
        self.jobs: queue.Queue[tuple[OutboxRow, Render] | None] = queue.Queue()
        # (rows accounted for, results decided): a refusal the streak holds is accounted
        # for without a result yet.
        self.done: queue.Queue[tuple[int, list[Result]]] = queue.Queue()
        self.outstanding = 0  # rows sent to the threads and not yet accounted for
        self.streak = Streak()
        self.tickets = itertools.count(1)  # next() is atomic under the GIL
        self.started = 0  # the last ticket given: what a refusal coming back now has seen
        self.lock = threading.RLock()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> Pool:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect and start the threads; DeliveryError if the server cannot be reached."""
        connections = [self._connect()]  # the server is unreachable: DeliveryError
        for _ in range(self.size - 1):
            try:
                connections.append(self._connect())
            except DeliveryError:
                break  # a server that limits connections per client: use what it gave
        for connection in connections:
            thread = threading.Thread(target=self._work, args=(connection,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def halt(self) -> None:
        """Send nothing more: the jobs still queued come back untried."""
        self.stopping = True

    def close(self, wait: bool = True) -> None:
        """Let the threads finish their connections (QUIT) and end. Jobs still queued come
        back untried instead of being sent unrecorded. `wait=False` (a stop asked at once)
        leaves the threads behind: they end with the process."""
        self.stopping = True
        for _ in self.threads:
            self.jobs.put(None)
        if wait:
            for thread in self.threads:
                thread.join()

    def _connect(self) -> SmtpConnection:
        """Open one connection; DeliveryError (with the reason) if the server is unreachable."""
        connection = SmtpConnection(self.settings)
        connection.open()
        return connection

    def send(self, rows: list[OutboxRow], render: Render) -> Iterator[list[Result]]:
        """Send each row's message (rendered in the worker threads), yielding the results
        as the server answers, a few at a time. Every row gets one result, here or from
        `settle` (a refusal the streak holds). Only a stop asked at once ends it early:
        the rows then in flight get none."""
        for row in rows:
            self.jobs.put((row, render))
        self.outstanding += len(rows)
        while self.outstanding and not self.stop.at_once:
            if results := self._take():
                yield results

    def drain(self) -> list[Result]:
        """After `halt`: the results of the rows still out. The queued ones come back
        untried at once, the ones in flight when their reply comes (within the timeout)."""
        results: list[Result] = []
        while self.outstanding and not self.stop.at_once:
            results += self._take()
        return results

    def _take(self) -> list[Result]:
        """The results that came in: waiting POLL seconds at most for the first, then what
        else comes within GATHER seconds of it (one commit for all of them)."""
        results: list[Result] = []
        until = time.monotonic() + POLL
        while self.outstanding and not (results and self.stop.requested):
            try:
                count, more = self.done.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
            if not results:
                until = time.monotonic() + GATHER
            self.outstanding -= count
            results += more
        return results

    def settle(self, judged: bool) -> list[Result]:
        """The refusals the streak still holds: each its address's own when `judged` (the
        run went to its end without a pause), else deferred, due at once: nobody blamed."""
        with self.lock:
            return self.streak.settle(judged and self.paused is None)

    def _work(self, connection: SmtpConnection | None) -> None:
        while (job := self.jobs.get()) is not None:
            row, render = job
            try:
                if self._halted():
                    result = Result(row, "untried")
                elif isinstance(data := _rendered(row, render), Result):
                    result = data
                else:
                    result, connection = self._deliver(connection, row, data)
            except Exception as exc:  # never lose a row: report it as not tried
                self._pause(Pause(t("smtp.pause.unexpected", error=repr(exc))))
                result = Result(row, "untried")
            self.done.put((1, self._judge(result)))
        if connection is not None:
            connection.close()

    def _halted(self) -> bool:
        return self.paused is not None or self.stopping or self.quota_reached or self.stop.requested

    def _judge(self, result: Result) -> list[Result]:
        """The results decided by this one: a permanent refusal waits in the streak."""
        with self.lock:
            if result.kind == "sent":
                return [result, *self.streak.accept(result.ticket)]
            if result.kind not in ("fail", "bounce") or not result.stage:
                return [result]
            result = replace(result, seen=self.started)
            if self.paused is not None or self.stop.requested:
                self.streak.hold(result)  # settled with the run: nobody is blamed in a pause
                return []
            decided = self.streak.refuse(result)
            if self.streak.tripped:
                count = len(self.streak.held)
                reason = t("smtp.pause.same_refusal", count=count, reply=result.reply)
                self._pause(self._said(reason, t("smtp.advice.everyone", count=count)))
            return decided

    def _deliver(
        self, connection: SmtpConnection | None, row: OutboxRow, data: bytes
    ) -> tuple[Result, SmtpConnection | None]:
        """One message; after a dropped connection, once more on a new one."""
        for attempt in (1, 2):
            if connection is None:
                connection = self._reconnect()
                if connection is None:
                    return Result(row, "untried"), None
            if not self.limiter.acquire():
                self.quota_reached = True
                return Result(row, "untried"), connection
            if self._halted():  # a stop came while waiting for the rate limit
                return Result(row, "untried"), connection
            try:
                # Numbered before the first command: "in a row" is the order messages were
                # started in, which replies from several connections need not keep.
                ticket = next(self.tickets)
                with self.lock:
                    self.started = max(self.started, ticket)
                return replace(self._transaction(connection, row, data), ticket=ticket), connection
            except CommandTimeout as exc:
                connection.close()
                said = t("smtp.pause.no_answer", command=exc.command, seconds=f"{exc.seconds:g}")
                self._pause(self._said(said, t("smtp.advice.slow")))
                return Result(row, "paused", f"no answer to {exc.command} in time"), None
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                connection.close()
                connection = None
                if attempt == 2:
                    return Result(row, "defer", f"connection lost twice while sending: {exc}"), None
        raise AssertionError("unreachable")

    def _transaction(self, connection: SmtpConnection, row: OutboxRow, data: bytes) -> Result:
        try:
            refused = connection.send_bytes(self.sender, [row.email], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(row.email, next(iter(exc.recipients.values())))
            return self._refused(row, code, reply, "rcpt", len(data))
        except smtplib.SMTPSenderRefused as exc:
            return self._refused(row, exc.smtp_code, exc.smtp_error, "mail", len(data))
        except smtplib.SMTPDataError as exc:
            return self._refused(row, exc.smtp_code, exc.smtp_error, "data", len(data))
        if refused:
            return self._refused(row, refused[0].code, refused[0].reply, "rcpt", len(data))
        return Result(row, "sent")

    def _refused(
        self, row: OutboxRow, code: int, reply: bytes | str, stage: Stage, size: int
    ) -> Result:
        said = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        text = remove_control_chars(f"{code} {' '.join(said.split())}")[:500]
        words = without_address(said, row.email)  # no word of the address decides
        kind = classify(code, words, stage)
        if kind == "pause" and code != 421 and row.attempts > 0:
            # A policy reply to an address already tried (one that paused a run before) is
            # that recipient's own refusal: pausing again would stall the whole list
            # behind it until the deadline. It waits its turn with back-off instead.
            return Result(row, "defer", text, stage)
        if kind == "halt":
            self._pause(self._halt_reason(text, stage, size))
            return Result(row, "halted", text, stage)  # still pending: nobody is to blame
        if kind == "pause":
            if code != 421 and about_us(words):
                advice = t("smtp.advice.our_side")
            else:
                advice = t("smtp.advice.later")
            self._pause(self._said(t("smtp.pause.said", reply=text), advice))
            return Result(row, "paused", text, stage)  # retried after the pause, never failed
        return Result(row, kind, text, stage)

    def _halt_reason(self, text: str, stage: Stage, size: int) -> Pause:
        if stage == "mail":
            return self._said(t("smtp.pause.sender", reply=text), t("smtp.advice.our_side"))
        return self._said(
            t("smtp.pause.message", reply=text),
            t("smtp.advice.message", size=math.ceil(size / 1024)),
        )

    def _said(self, what: str, advice: str) -> Pause:
        return Pause(t("smtp.pause.server", host=self.settings.host, what=what), advice)

    def _reconnect(self) -> SmtpConnection | None:
        try:
            return self._connect()
        except DeliveryError as exc:
            self._pause(Pause(t("smtp.pause.reconnect", error=exc.message)))
            return None

    def _pause(self, pause: Pause) -> None:
        with self.lock:
            self.paused = self.paused or pause
