"""The SMTP client's own faults (issue 10): a password that breaks the URL, and a server
that answers too slowly to ever trip a per-read timeout. Against real loopback servers."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.delivery.smtp import SmtpConnection, parse_smtp_url, send_one
from digest.errors import DeliveryError, SettingError
from tests.smtp_server import SmtpServer, TricklingServer
from tests.test_deliver_cli import digest, prepare


@pytest.mark.usefixtures("english_staff")
@pytest.mark.parametrize(
    "url",
    [
        "smtp://lettre:Kq7/zPw@mail.example.org:587",
        "smtp://lettre:Kq7/zPw@mail.example.org",
        "smtp://lettre:Kq7?zPw@mail.example.org",
        "smtp://lettre:Kq7#zPw@mail.example.org?tls=ssl",
        "smtp://let/tre:Kq7zPw@mail.example.org",
    ],
)
def test_a_slash_in_the_password_says_to_percent_encode_it(url: str) -> None:
    """It used to say "the port is not a number": the '/' ends the host part of a URL."""
    with pytest.raises(SettingError) as error:
        parse_smtp_url(url)
    assert error.value.exit_code == 2
    assert "the user or password contains '/', '?' or '#'" in error.value.message
    assert error.value.hint and "'/' is %2F" in error.value.hint
    shown = error.value.message + error.value.hint
    assert "Kq7" not in shown and "zPw" not in shown, "the password is never shown"


def test_a_percent_encoded_slash_logs_in(tmp_path: Path) -> None:
    server = SmtpServer(users={"lettre": "abc/def"})
    server.controller.start()
    try:
        url = f"smtp://lettre:abc%2Fdef@127.0.0.1:{server.port}?tls=none"
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "l@example.org", "a@example.org", "s"
        message.set_content("Bonjour")
        send_one(parse_smtp_url(url), message)
        assert server.recorder.logins == ["lettre"]
    finally:
        server.controller.stop()


def test_digest_send_with_a_slash_in_the_password_is_bad_config(tmp_path: Path) -> None:
    config, _ = prepare(tmp_path, 2)
    run = digest(config, "send", smtp="smtp://lettre:s3cr/et@mail.example.org:587")
    assert run.returncode == 2
    assert "l'utilisateur ou le mot de passe contient « / »" in run.stderr and "%2F" in run.stderr
    assert "s3cr" not in run.stderr and "port n'est pas un nombre" not in run.stderr


@pytest.mark.parametrize(
    ("url", "seconds"),
    [("smtp://h", 60.0), ("smtp://h?timeout=5", 5.0), ("smtp://h?tls=none&timeout=0.5", 0.5)],
)
def test_the_command_timeout_comes_from_the_url(url: str, seconds: float) -> None:
    assert parse_smtp_url(url).timeout == seconds


@pytest.mark.parametrize(
    "url", ["smtp://h?timeout=soon", "smtp://h?timeout=0", "smtp://h?timeout=-3"]
)
def test_a_bad_timeout_is_bad_config(url: str) -> None:
    with pytest.raises(SettingError) as error:
        parse_smtp_url(url)
    assert "timeout=" in error.value.message and error.value.exit_code == 2


def test_a_greeting_trickled_a_byte_at_a_time_is_cut_off_at_the_timeout() -> None:
    """Each byte comes within any per-read timeout; the whole reply does not come in time."""
    server = TricklingServer(b"", 0.3)  # b"": the greeting itself trickles (about 6 s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = replace(parse_smtp_url(server.url), timeout=1.0)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as error:
            SmtpConnection(settings).open()
        took = time.monotonic() - started
        assert took < 3, took
        assert "no complete reply to the greeting within 1 s" in error.value.message
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
