"""Loopback aiosmtpd server fixture that records what it receives, and can be scripted.

`smtp_server` is a real aiosmtpd Controller on 127.0.0.1, bound to port 0; the port the
kernel chose is read back and used by aiosmtpd's own readiness check. A test scripts the
replies through `smtp_server.script`:

    smtp_server.script.rcpt["gone@example.org"] = "550 5.1.1 No such user"
    smtp_server.script.rcpt["later@example.org"] = "451 4.3.0 Try again later"
    smtp_server.script.rcpt_default = "550 relaying denied"       # every other address...
    smtp_server.script.default_after = 40                         # ...once 40 were accepted
    smtp_server.script.mail = "421 4.7.0 Too many connections"   # refuse MAIL FROM
    smtp_server.script.data = "552 5.3.4 Message too big"         # refuse every message
    smtp_server.script.drop_rcpt.add("cut@example.org")          # hang up at that RCPT
    smtp_server.script.drop_data_after = 2                       # hang up at every DATA after 2
    smtp_server.script.drop_data_at = {3}                        # hang up at the 3rd DATA only
    smtp_server.script.data_delay = 0.01                         # a slow server: wait at DATA

`smtp_server.url` is the DIGEST_SMTP_URL to use; `wait_for(n)` waits for n messages (mail
sent from a background task arrives after the HTTP response).

`trickling_smtp` is another loopback server, a relay gone wrong: it answers one command a
byte at a time, a fraction of a second apart, so that no single read ever times out.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Script:
    """Replies to give instead of 250. Edit it from a test; the server reads it live."""

    mail: str | None = None
    rcpt: dict[str, str] = field(default_factory=dict)
    rcpt_default: str | None = None  # the reply to every address not in `rcpt`...
    default_after: int = 0  # ...once this many messages were accepted
    data: str | None = None  # the reply to every message, instead of accepting it
    drop_rcpt: set[str] = field(default_factory=set)
    drop_data_after: int | None = None
    drop_data_at: set[int] = field(default_factory=set)
    data_delay: float = 0.0
    slow_after: int = 0  # data_delay applies once this many messages were accepted


class Recorder:
    """The aiosmtpd handler: applies the script and records accepted messages."""

    def __init__(self) -> None:
        self.script = Script()
        self.messages: list[Received] = []
        self.data_commands = 0
        self.logins: list[str] = []
        self.arrived = threading.Condition()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.script.mail:
            if self.script.mail.startswith("421"):
                _hang_up_after(server, self.script.mail)
            return self.script.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.script.drop_rcpt:
            assert server.transport is not None
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        reply = self.script.rcpt.get(address.lower())
        if reply is None and len(self.messages) >= self.script.default_after:
            reply = self.script.rcpt_default
        if reply:
            if reply.startswith("421"):
                _hang_up_after(server, reply)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.script.data_delay and len(self.messages) >= self.script.slow_after:
            await asyncio.sleep(self.script.data_delay)
        self.data_commands += 1
        limit = self.script.drop_data_after
        dropped = limit is not None and self.data_commands > limit
        if dropped or self.data_commands in self.script.drop_data_at:
            assert server.transport is not None
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        if self.script.data:
            return self.script.data
        content = envelope.original_content or b""
        received = Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), content)
        with self.arrived:
            self.messages.append(received)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


def _hang_up_after(server: SMTP, reply: str) -> None:
    """A 421 reply means the server closes the session right after saying so."""
    assert server.loop is not None and server.transport is not None
    server.loop.call_later(0.05, server.transport.close)


class LoopbackController(Controller):
    """Binds to port 0 and hands the real port to aiosmtpd's readiness check."""

    sessions = 0  # SMTP connections opened (the readiness check's own included)

    def factory(self) -> SMTP:
        self.sessions += 1
        return super().factory()  # type: ignore[no-untyped-call,no-any-return]

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer:
    """What a test sees: the URL, the received messages, the script."""

    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.recorder = Recorder()
        self.users = users
        kwargs: dict[str, Any] = {}
        if users is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = LoopbackController(
            self.recorder, hostname="127.0.0.1", port=0, ready_timeout=10, **kwargs
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.users is not None
            and self.users.get(data.login.decode()) == data.password.decode()
        )
        if ok:
            self.recorder.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd replies 535

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?tls=none"

    @property
    def sessions(self) -> int:
        """Client connections so far, not counting aiosmtpd's own readiness check."""
        return self.controller.sessions - 1

    @property
    def script(self) -> Script:
        return self.recorder.script

    @property
    def messages(self) -> list[Received]:
        return self.recorder.messages

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `count` messages arrived (a bounded wait, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        with self.recorder.arrived:
            while len(self.recorder.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.messages)} messages arrived, not {count}")
                self.recorder.arrived.wait(left)
            return list(self.recorder.messages)


@contextmanager
def receiving_mail() -> Iterator[SmtpServer]:
    """The server, for as long as the block runs (scripts/screenshots.py too)."""
    server = SmtpServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    with receiving_mail() as server:
        yield server


@pytest.fixture
def smtp_server_auth() -> Iterator[SmtpServer]:
    """The same server, requiring AUTH (user `lettre`, password `s3cret pass`)."""
    server = SmtpServer(users={"lettre": "s3cret pass"})
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()


class _Trickler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib; the reply to `server.slow` comes a byte at a time."""

    server: TricklingServer

    def handle(self) -> None:
        self.say(b"220 trickle ESMTP")
        while line := self.rfile.readline(1000):
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.say(b"250-trickle\r\n250 8BITMIME", verb)
            elif verb == b"DATA":
                self.say(b"354 go on")
                while (body := self.rfile.readline(100_000)) and body != b".\r\n":
                    pass
                self.say(b"250 2.0.0 Accepted, eventually", b"DATA")
            elif verb == b"QUIT":
                self.say(b"221 bye", verb)
                return
            else:
                self.say(b"250 2.1.0 Ok, eventually", verb)

    def say(self, reply: bytes, verb: bytes = b"") -> None:
        if verb != self.server.slow:
            self.wfile.write(reply + b"\r\n")
            return
        for byte in reply + b"\r\n":  # bounded: a few dozen bytes, then the reply is whole
            if self.server.closing.wait(self.server.interval):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()


class TricklingServer(socketserver.ThreadingTCPServer):
    """A loopback SMTP server that trickles its reply to one command (`slow`: b"RCPT",
    b"DATA", b"EHLO"...), one byte every `interval` seconds; it stops with the fixture."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, slow: bytes, interval: float) -> None:
        super().__init__(("127.0.0.1", 0), _Trickler)
        self.slow, self.interval = slow, interval
        self.closing = threading.Event()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server_address[1]}?tls=none"

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """A client that hung up on a trickle is what the tests expect: not an error."""


@pytest.fixture
def trickling_smtp() -> Iterator[TricklingServer]:
    """A relay that answers RCPT one byte every half second (about 15 s for the reply)."""
    server = TricklingServer(b"RCPT", 0.5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
