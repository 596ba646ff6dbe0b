"""The confirmation mailer: one thread that drains a bounded queue over one SMTP session.

The page answers at once; the email follows within moments. Reusing the session spares a
TCP and TLS handshake per message, and the bounded queue keeps a flood from eating memory
(the rate limits stop floods earlier; a full queue drops and logs). A failed send is retried
once on a fresh connection, then logged: the visitor can ask again.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
from collections.abc import Callable
from email.message import EmailMessage

from ..errors import DigestError
from ..smtp import SmtpConnection, SmtpSettings

log = logging.getLogger("digest.web")
IDLE_SECONDS = 5.0  # close the session when nothing came for this long


# A message, or a function that builds it: building an EmailMessage costs about a
# millisecond of header parsing, better spent in this thread than in the event loop.
Outgoing = EmailMessage | Callable[[], EmailMessage]


class Mailer:
    """`submit` from any thread; `start` and `stop` from the app's lifespan."""

    def __init__(
        self,
        settings: SmtpSettings,
        size: int = 1000,
        connect: Callable[[SmtpSettings], SmtpConnection] = SmtpConnection,
    ) -> None:
        self.settings = settings
        self.connect = connect
        self.queue: queue.Queue[Outgoing | None] = queue.Queue(size)
        self.thread: threading.Thread | None = None
        self.connection: SmtpConnection | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="digest-mailer", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (within `timeout`), then close the session."""
        if self.thread is not None:
            self.queue.put(None)  # the stop sign
            self.thread.join(timeout)
            self.thread = None

    def submit(self, message: Outgoing) -> bool:
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            log.error("confirmation queue full: an email was dropped")
            return False
        return True

    def _run(self) -> None:
        while True:
            try:
                message = self.queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                self._close()
                continue
            if message is None:
                self._close()
                return
            self._send(message if isinstance(message, EmailMessage) else message())

    def _send(self, message: EmailMessage) -> None:
        for attempt in (1, 2):
            try:
                if self.connection is None:
                    self.connection = self.connect(self.settings)
                    self.connection.open()
                refused = self.connection.send(message)
            except (DigestError, OSError, smtplib.SMTPException) as exc:
                self._close()
                if attempt == 2 or isinstance(exc, smtplib.SMTPRecipientsRefused):
                    log.error("confirmation email to %s not sent: %s", message["To"], exc)
                    return
                continue
            if refused:
                log.error("confirmation email to %s refused: %s", message["To"], refused[0])
            return

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()
