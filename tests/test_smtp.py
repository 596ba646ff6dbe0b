"""The SMTP client's own faults (issue 10): a password that breaks the URL. Against real
loopback servers."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.delivery.smtp import parse_smtp_url, send_one
from digest.errors import SettingError
from tests.smtp_server import SmtpServer
from tests.test_deliver_cli import digest, prepare


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
    assert "the user or password contains '/'" in run.stderr and "%2F" in run.stderr
    assert "s3cr" not in run.stderr and "port is not a number" not in run.stderr
