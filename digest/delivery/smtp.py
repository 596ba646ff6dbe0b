"""A small SMTP client: where mail goes (`DIGEST_SMTP_URL`) and one connection that sends.

`parse_smtp_url` turns `smtp://[user:password@]host[:port][?tls=starttls|ssl|none]
[&timeout=SECONDS]` into `SmtpSettings`; `SmtpConnection` opens, upgrades (STARTTLS or
implicit TLS), authenticates and sends messages one at a time, returning what the server
refused per recipient so that a bulk sender can reuse the connection and sort 4xx from 5xx.
Every command, its reply included, must be done within `timeout` seconds in all (a server
that trickles a byte every few seconds would never trip a per-read timeout): past that,
CommandTimeout. Failures that stop the whole connection are DeliveryError with a hint; a
missing or malformed URL is a SettingError.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from ..chars import remove_control_chars
from ..errors import DeliveryError, SettingError
from ..i18n import t

_T = TypeVar("_T")

SMTP_ENV = "DIGEST_SMTP_URL"
TLS_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
READ_TIMEOUT = 30.0  # the longest silence on a connection
COMMAND_TIMEOUT = 60.0  # the longest one SMTP command may take, reply included


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect. `password` never appears in repr (logs, tracebacks)."""

    host: str
    port: int
    tls: str = "starttls"
    user: str | None = None
    password: str | None = None
    timeout: float = COMMAND_TIMEOUT  # seconds for one command and its whole reply

    def __repr__(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"SmtpSettings(smtp://{who}{self.host}:{self.port}?tls={self.tls})"


@dataclass(frozen=True)
class Refusal:
    """One recipient the server refused: its reply code and text."""

    address: str
    code: int
    reply: str

    @property
    def permanent(self) -> bool:
        return self.code >= 500


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read `smtp://[user:password@]host[:port][?tls=...][&timeout=SECONDS]`; the default
    TLS mode is starttls. The user and password never appear in an error (it may be logged)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "smtp" or not parts.hostname:
        raise SettingError(t("smtp.error.not_url", env=SMTP_ENV), hint=_url_hint())
    if "@" in parts.path + parts.query + parts.fragment:
        # "smtp://u:pa/ss@host": the '/' ended the host part, and "pa" reads as its port.
        raise SettingError(
            t("smtp.error.user_chars", env=SMTP_ENV), hint=t("smtp.error.user_chars_hint")
        )
    query = parse_qs(parts.query)
    tls = query.get("tls", ["starttls"])[-1].lower()
    if tls not in TLS_MODES:
        raise SettingError(
            t("smtp.error.tls", env=SMTP_ENV, tls=repr(tls)), hint=t("smtp.error.tls_hint")
        )
    try:
        port = parts.port or DEFAULT_PORTS[tls]
    except ValueError as exc:
        raise SettingError(t("smtp.error.port", env=SMTP_ENV), hint=_url_hint()) from exc
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    timeout = _seconds(query.get("timeout", [str(COMMAND_TIMEOUT)])[-1])
    return SmtpSettings(parts.hostname, port, tls, user, password, timeout)


def _url_hint() -> str:
    return t("smtp.error.url_hint", env=SMTP_ENV)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 3600:
        raise SettingError(
            t("smtp.error.timeout", env=SMTP_ENV, timeout=repr(text)),
            hint=t("smtp.error.timeout_hint", seconds=f"{COMMAND_TIMEOUT:g}"),
        )
    return seconds


def settings_from_env(environ: Mapping[str, str] | None = None) -> SmtpSettings:
    """The settings in $DIGEST_SMTP_URL; a clear SettingError when it is missing."""
    url = (os.environ if environ is None else environ).get(SMTP_ENV, "")
    if not url.strip():
        raise SettingError(t("smtp.error.unset", env=SMTP_ENV), hint=_url_hint())
    return parse_smtp_url(url)


class CommandTimeout(smtplib.SMTPServerDisconnected):
    """The server did not finish answering one command within the timeout (it may be
    trickling its reply). The connection is closed: its replies can no longer be read."""

    def __init__(self, command: str, seconds: float) -> None:
        super().__init__(f"no complete reply to {command} within {seconds:g} s")
        self.command = command
        self.seconds = seconds


class _Lines:
    """A socket's replies line by line, each read bounded by its command's deadline: it
    stands in for the socket file smtplib reads replies from (`file.readline`)."""

    def __init__(self, smtp: _DeadlineSMTP, sock: socket.socket) -> None:
        self.smtp, self.sock = smtp, sock
        self.buffer = bytearray()
        self.timeout = sock.gettimeout()

    def readline(self, limit: int) -> bytes:
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0 or len(self.buffer) >= limit:
                size = end + 1 if end >= 0 else limit
                line = bytes(self.buffer[:size])
                del self.buffer[:size]
                return line
            wait = self.smtp.time_left()
            if wait != self.timeout:
                # settimeout is a system call that lets go of the GIL: with four sending
                # threads that costs more than the read, so only when the wait changes
                # (a command in its last READ_TIMEOUT seconds).
                self.sock.settimeout(wait)
                self.timeout = wait
            chunk = self.sock.recv(8192)
            if not chunk:  # the server hung up: what is left, then b"" (smtplib's EOF)
                line = bytes(self.buffer)
                self.buffer.clear()
                return line
            self.buffer += chunk

    def close(self) -> None:
        self.buffer.clear()


class _DeadlineSMTP(smtplib.SMTP):
    """smtplib.SMTP where each write (a command, or the message after DATA) starts a clock
    of `command_timeout` seconds that the write and its whole reply must beat; no read
    waits longer than READ_TIMEOUT. Past it: CommandTimeout, the connection closed."""

    def __init__(self, host: str, port: int, local_hostname: str | None, timeout: float) -> None:
        self._setup(timeout)
        super().__init__(host, port, local_hostname, timeout=min(timeout, READ_TIMEOUT))

    def _setup(self, timeout: float) -> None:
        self.command_timeout = timeout
        self.command = "the greeting"
        self.deadline = time.monotonic() + timeout

    def time_left(self) -> float:
        """Seconds the next read may wait; TimeoutError once the deadline has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no reply within {self.command_timeout:g} s")
        return min(left, READ_TIMEOUT)

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self.command = "the greeting"
        self.deadline = time.monotonic() + self.command_timeout
        return super().connect(host, port, source_address)

    def putcmd(self, cmd: str, args: str = "") -> None:
        self.command = cmd.split(maxsplit=1)[0].upper() if cmd.strip() else "a command"
        super().putcmd(cmd, args)

    def send(self, s: Any) -> None:
        self.deadline = time.monotonic() + self.command_timeout
        lines = self._lines()
        if lines is not None and lines.timeout != (wait := self.time_left()):
            lines.sock.settimeout(wait)  # sendall's own deadline (see _Lines.readline)
            lines.timeout = wait
        self._bounded(lambda: super(_DeadlineSMTP, self).send(s))

    def getreply(self) -> tuple[int, bytes]:
        self._lines()
        return self._bounded(super().getreply)

    def _lines(self) -> _Lines | None:
        """The reader of the current socket (STARTTLS replaces it, and smtplib's file)."""
        if self.sock is None:
            return None
        if not isinstance(self.file, _Lines) or self.file.sock is not self.sock:
            self.file = _Lines(self, self.sock)
        return self.file

    def _bounded(self, call: Callable[[], _T]) -> _T:
        """`call()`; a timeout, which smtplib reports as a disconnection, is CommandTimeout."""
        try:
            return call()
        except smtplib.SMTPServerDisconnected as exc:
            if not isinstance(exc.__context__, TimeoutError):
                raise
            raise CommandTimeout(self.command, self.command_timeout) from exc


class _DeadlineSMTPSSL(_DeadlineSMTP, smtplib.SMTP_SSL):
    """The same over implicit TLS (port 465)."""

    def __init__(
        self, host: str, port: int, local_hostname: str | None, timeout: float,
        context: ssl.SSLContext,
    ) -> None:  # fmt: skip
        self._setup(timeout)  # SMTP_SSL's __init__ calls SMTP's, not ours
        read = min(timeout, READ_TIMEOUT)
        smtplib.SMTP_SSL.__init__(self, host, port, local_hostname, timeout=read, context=context)


class SmtpConnection:
    """One SMTP session. Use as a context manager; `send` may be called many times."""

    def __init__(self, settings: SmtpSettings, local_hostname: str | None = None) -> None:
        self.settings = settings
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpConnection:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect, say EHLO, upgrade to TLS when asked, and log in when a user is given."""
        s = self.settings
        try:
            self._smtp = self._connect()
            if s.tls == "starttls":
                self._smtp.starttls(context=ssl.create_default_context())
                self._smtp.ehlo()
            if s.user is not None:
                self._smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise DeliveryError(
                t("smtp.error.login", host=s.host, user=repr(s.user), reply=server_reply(exc)),
                hint=t("smtp.error.login_hint", env=SMTP_ENV),
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(
                t("smtp.error.connect", host=s.host, port=s.port, reply=server_reply(exc)),
                hint=t("smtp.error.connect_hint", env=SMTP_ENV),
            ) from exc

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.tls == "ssl":
            context = ssl.create_default_context()
            return _DeadlineSMTPSSL(s.host, s.port, self.local_hostname, s.timeout, context)
        smtp = _DeadlineSMTP(s.host, s.port, self.local_hostname, s.timeout)
        smtp.ehlo()
        return smtp

    def send(self, message: EmailMessage, recipients: list[str] | None = None) -> list[Refusal]:
        """Send `message` (envelope from its From:, to `recipients` or its To:).

        Returns the recipients the server refused while accepting others. When it refuses
        all of them, or the sender, or the data, raises smtplib's own exception
        (SMTPRecipientsRefused, SMTPSenderRefused, SMTPDataError, SMTPServerDisconnected)
        so that a caller sending in bulk can tell a 4xx from a 5xx and a dropped session.
        """
        if self._smtp is None:
            raise DeliveryError("the SMTP connection is not open", hint="use it as a context")
        to = recipients or [a for _, a in getaddresses(message.get_all("To", []))]
        sender = _envelope_sender(message)
        refused = self._smtp.send_message(message, from_addr=sender, to_addrs=to)
        return [Refusal(a, code, _text(reply)) for a, (code, reply) in refused.items()]

    def send_bytes(self, sender: str, recipients: list[str], data: bytes) -> list[Refusal]:
        """Send an already serialised message (CRLF lines) as is: no parsing, no re-encoding.

        The bulk path: building a message object per recipient costs more than the SMTP
        transaction itself. Refusals and exceptions as in `send`.
        """
        if self._smtp is None:
            raise DeliveryError("the SMTP connection is not open", hint="use it as a context")
        refused = self._smtp.sendmail(sender, recipients, data)
        return [Refusal(a, code, _text(reply)) for a, (code, reply) in refused.items()]

    def close(self) -> None:
        """QUIT politely; a server that already hung up is not an error here."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def send_one(settings: SmtpSettings, message: EmailMessage) -> None:
    """Open a connection, send one message to its To:, close; any refusal is a DeliveryError."""
    with SmtpConnection(settings) as connection:
        try:
            refused = connection.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                t("smtp.error.not_taken", host=settings.host, reply=server_reply(exc)),
                hint=t("smtp.error.not_taken_hint"),
            ) from exc
    if refused:
        first = refused[0]
        raise DeliveryError(
            t("smtp.error.refused", address=first.address, reply=f"{first.code} {first.reply}"),
            hint=t("smtp.error.server_log"),
        )


def _envelope_sender(message: EmailMessage) -> str:
    addresses = getaddresses(message.get_all("Sender", []) or message.get_all("From", []))
    return addresses[0][1] if addresses else ""


def server_reply(exc: BaseException) -> str:
    """What the server said, as one line of text: its code and words, never a repr."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{a}: {c} {_text(r)}" for a, (c, r) in exc.recipients.items())
    code = getattr(exc, "smtp_code", None)
    error = getattr(exc, "smtp_error", None)
    if code is not None and error is not None:
        return f"{code} {_text(error)}"
    if isinstance(exc, socket.timeout):
        return "timed out"
    return _text(str(exc) or type(exc).__name__)


def _text(reply: bytes | str) -> str:
    """A server's words as text fit for a terminal or a log: no escape sequence, no CR/LF."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return remove_control_chars(text)
