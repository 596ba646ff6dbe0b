"""The site's mailer: one thread that sends the confirmation and welcome emails the store
says are owed (store/confirmations.py), over one reused SMTP session.

The page answers at once and marks the email as owed; `wake` makes the thread look now. It
also looks at start (a restarted site sends what the last one could not) and whenever a
retry falls due. Reusing the session spares a TCP and TLS handshake per message. A failed
send is tried again later (1 min, 2, 4... at most an hour apart), for about a day; an
address the server refuses for good is given up at once. Nothing waits in memory, so a
flood of requests costs rows in the store (which the rate limits bound), not a queue that
must drop some.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from ..delivery.smtp import SmtpConnection, SmtpSettings
from ..errors import DigestError
from ..store import DueConfirmation, Store
from .storage import lock_timed_out

log = logging.getLogger("digest.web")
IDLE_SECONDS = 5.0  # close the session when nothing came for this long
RETRY_FIRST_S = 60.0
RETRY_MAX_S = 3600.0
MAX_ATTEMPTS = 30  # with the delays above: about a day of tries

# Builds the email for (subscriber id, address, now); its link is signed at sending time.
Build = Callable[[int, str, datetime], EmailMessage]


def retry_delay(attempts: int) -> float:
    """Seconds before the next try, after `attempts` failed ones (1, 2, 3...)."""
    return min(RETRY_FIRST_S * 2.0 ** max(attempts - 1, 0), RETRY_MAX_S)


class Mailer:
    """`wake` from any thread; `start` and `stop` from the app's lifespan."""

    def __init__(
        self,
        settings: SmtpSettings,
        store_path: Path,
        build: Build,
        clock: Callable[[], datetime],
        connect: Callable[[SmtpSettings], SmtpConnection] = SmtpConnection,
        busy_timeout: float = 30.0,
        welcome: Build | None = None,
    ) -> None:
        self.settings, self.store_path, self.build = settings, store_path, build
        self.welcome = welcome  # the email owed to a confirmed subscriber (None: none is sent)
        self.clock, self.connect = clock, connect
        self.busy_timeout = busy_timeout  # how long a store call waits for a lock held elsewhere
        self.wakeup = threading.Event()
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.connection: SmtpConnection | None = None

    def start(self) -> None:
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="digest-mailer", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is due now (within `timeout`), then close the session."""
        if self.thread is not None:
            self.stopping = True
            self.wakeup.set()
            self.thread.join(timeout)
            self.thread = None

    def wake(self) -> None:
        """Something is owed now: look at the store."""
        self.wakeup.set()

    def _run(self) -> None:
        # SQLite connections belong to their thread: this one is the mailer's own.
        with Store(self.store_path, busy_timeout=self.busy_timeout) as store:
            while True:
                self.wakeup.clear()
                pause = self._round(store)
                if self.stopping:
                    break
                if not self.wakeup.wait(pause):
                    self._close()  # idle: let the server have its connection back
        self._close()

    def _round(self, store: Store) -> float:
        """Send what is due; the seconds until the next look.

        The thread must outlive any failure: if it died, no confirmation email would go out
        until the site restarted. A store that another process keeps locked (or any other
        error) is logged and tried again IDLE_SECONDS later; what was owed stays owed."""
        try:
            self._send_due(store)
            return self._sleep(store)
        except Exception as exc:
            if lock_timed_out(exc):
                log.warning("store busy, confirmation emails wait %g s: %s", IDLE_SECONDS, exc)
            else:
                log.exception("confirmation mailer failed, trying again in %g s", IDLE_SECONDS)
        return IDLE_SECONDS

    def _sleep(self, store: Store) -> float:
        """Until the next retry falls due, but look again every IDLE_SECONDS at most."""
        due = store.next_confirmation_at()
        if due is None:
            return IDLE_SECONDS
        return max(0.0, min(IDLE_SECONDS, (due - self.clock()).total_seconds()))

    def _send_due(self, store: Store) -> None:
        while due := store.claim_confirmations(self.clock()):
            for owed in due:
                store.confirmation_done(owed.subscriber_id, self._send_one(owed), owed.claim)

    def _send_one(self, owed: DueConfirmation) -> datetime | None:
        """None when sent or given up; else when to try again."""
        now = self.clock()
        build = self.build if owed.status == "pending" else self.welcome
        if build is None:
            return None
        failure = self._send(build(owed.subscriber_id, owed.email, now))
        if failure is None:
            return None
        attempts = owed.attempts + 1
        if failure.startswith("refused") or attempts >= MAX_ATTEMPTS:
            log.error("%s email to %s not sent, given up: %s", _kind(owed), owed.email, failure)
            return None
        log.warning(
            "%s email to %s not sent (try %d): %s", _kind(owed), owed.email, attempts, failure
        )
        return now + timedelta(seconds=retry_delay(attempts))

    def _send(self, message: EmailMessage) -> str | None:
        """None if the server took it, else why not ("refused: ..." when for good)."""
        for attempt in (1, 2):
            try:
                if self.connection is None:
                    self.connection = self.connect(self.settings)
                    self.connection.open()
                refused = self.connection.send(message)
            except smtplib.SMTPRecipientsRefused as exc:
                return _refusal(exc.recipients)
            except (DigestError, OSError, smtplib.SMTPException) as exc:
                self._close()
                if attempt == 2:
                    return f"{type(exc).__name__}: {exc}"
                continue  # a session the server dropped: once more on a fresh one
            return f"refused: {refused[0]}" if refused else None
        raise AssertionError("unreachable")

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


def _refusal(recipients: dict[str, tuple[int, bytes]]) -> str:
    """'refused: ...' for a permanent (5xx) reply, a plain reason for a temporary one."""
    code, reply = next(iter(recipients.values()))
    said = f"{code} {reply.decode('utf-8', 'replace')}"
    return f"refused: {said}" if code >= 500 else said


def _kind(owed: DueConfirmation) -> str:
    return "confirmation" if owed.status == "pending" else "welcome"
