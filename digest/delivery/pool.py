"""The SMTP side of delivery: a few reused connections in threads, a rate limit, and what
each reply means.

    with Pool(settings, size, limiter, sender) as pool:
        pool.send(rows, render) -> list[Result]

smtplib blocks, so each connection has its own thread; a batch is shared out between them
and `send` returns when every job has a result. A reply of 421, or a 4.7.x/5.7.x policy or
rate-limit reply, sets `paused` and the jobs not yet tried come back as 'untried' (a policy
reply to an address tried before is deferred instead: that address's own refusal). A dropped
connection is reopened and the message in flight is tried once more, as is (same bytes, same
Message-ID); if the server cannot be reached again, or takes longer than its timeout to
answer one command, the pool pauses.
"""

from __future__ import annotations

import collections
import math
import queue
import re
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ..chars import remove_control_chars
from ..errors import DeliveryError
from ..store.outbox import OutboxRow
from .smtp import SMTP_ENV, CommandTimeout, SmtpConnection, SmtpSettings

_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Result:
    """What the server said about one message.

    kind: sent, defer, fail, bounce, paused (the reply that paused the run), untried.
    """

    row: OutboxRow
    kind: str
    reply: str = ""


def classify(code: int, reply: str) -> str:
    """pause, defer, fail or bounce (a 5.1.x mailbox error: the address is suppressed).

    Greylisting (a 4.7.x "greylisted" reply from one recipient's domain) is a deferral:
    pausing the whole run for it would stall every run at the same address.
    """
    enhanced = _ENHANCED.match(reply)
    if code == 421:
        return "pause"
    if enhanced and enhanced[2] == "7" and code >= 400 and "greylist" not in reply.lower():
        return "pause"
    if 400 <= code < 500:
        return "defer"
    if enhanced and enhanced[1] == "5" and enhanced[2] == "1":
        return "bounce"
    # Without an enhanced code, these three name the mailbox itself (RFC 5321 §4.2.3).
    return "bounce" if not enhanced and code in (550, 551, 553) else "fail"


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
        self, settings: SmtpSettings, size: int, limiter: RateLimiter, sender: str
    ) -> None:
        self.settings = settings
        self.size = size
        self.limiter = limiter
        self.sender = sender
        self.paused: str | None = None
        self.quota_reached = False  # the limiter's quota needs a later run: stop, fail no one
        self.stopping = False
        self.jobs: queue.Queue[tuple[OutboxRow, Render] | None] = queue.Queue()
        self.results: list[Result] = []
        self.lock = threading.Lock()
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

    def close(self) -> None:
        """Let the threads finish their connections (QUIT) and end. Jobs still queued (an
        interrupted run: Ctrl-C) come back untried instead of being sent unrecorded."""
        self.stopping = True
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join()

    def _connect(self) -> SmtpConnection:
        """Open one connection; DeliveryError (with the reason) if the server is unreachable."""
        connection = SmtpConnection(self.settings)
        connection.open()
        return connection

    def send(self, rows: list[OutboxRow], render: Render) -> list[Result]:
        """Send each row's message (rendered in the worker threads); one result per row."""
        self.results = []
        for row in rows:
            self.jobs.put((row, render))
        self.jobs.join()
        return self.results

    def _work(self, connection: SmtpConnection | None) -> None:
        while (job := self.jobs.get()) is not None:
            row, render = job
            try:
                if self.paused is not None or self.stopping or self.quota_reached:
                    result = Result(row, "untried")
                elif isinstance(data := _rendered(row, render), Result):
                    result = data
                else:
                    result, connection = self._deliver(connection, row, data)
            except Exception as exc:  # never lose a row: report it as not tried
                self._pause(f"unexpected error while sending: {exc!r}")
                result = Result(row, "untried")
            with self.lock:
                self.results.append(result)
            self.jobs.task_done()
        if connection is not None:
            connection.close()
        self.jobs.task_done()

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
            try:
                return self._transaction(connection, row, data), connection
            except CommandTimeout as exc:  # a server this slow is not tried again now
                connection.close()
                self._pause(
                    f"the mail server {self.settings.host} did not answer {exc.command} within"
                    f" {exc.seconds:g} s (check it, or give it longer: timeout= in"
                    f" {SMTP_ENV})"
                )
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
            return self._refused(row, code, reply)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if isinstance(exc, smtplib.SMTPSenderRefused):
                # The sender itself is refused: every message would be. Stop, fail no one.
                return self._refused(row, exc.smtp_code, exc.smtp_error, "refused the sender: ")
            return self._refused(row, exc.smtp_code, exc.smtp_error)
        if refused:
            return self._refused(row, refused[0].code, refused[0].reply.encode())
        return Result(row, "sent")

    def _refused(self, row: OutboxRow, code: int, reply: bytes | str, why: str = "") -> Result:
        said = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        said = " ".join(said.split())
        text = remove_control_chars(f"{code} {said}")[:500]  # it goes to terminals
        kind = classify(code, said)
        if kind == "pause" and code != 421 and row.attempts > 0:
            # A policy reply to an address already tried (one that paused a run before) is
            # that recipient's own refusal: pausing again would stall the whole list
            # behind it until the deadline. It waits its turn with back-off instead.
            kind = "defer"
        if why or kind == "pause":
            self._pause(f"the mail server {self.settings.host} {why or 'said: '}{text}")
            return Result(row, "paused", text)  # retried after the pause, never failed
        return Result(row, kind, text)

    def _reconnect(self) -> SmtpConnection | None:
        try:
            return self._connect()
        except DeliveryError as exc:
            self._pause(f"lost the connection and could not reconnect: {exc.message}")
            return None

    def _pause(self, reason: str) -> None:
        with self.lock:
            self.paused = self.paused or reason
