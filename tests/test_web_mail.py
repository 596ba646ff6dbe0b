"""The SMTP client behind the confirmation email, against the scriptable aiosmtpd fixture."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.config import load_config
from digest.delivery.smtp import (
    SmtpConnection,
    SmtpSettings,
    parse_smtp_url,
    send_one,
    settings_from_env,
)
from digest.errors import DeliveryError, SettingError
from digest.i18n import messages
from digest.render.environment import make_env
from digest.store import Store
from digest.web.mail import confirmation_message
from digest.web.mailer import Mailer, retry_delay
from digest.web.site import site_words
from tests.smtp_server import SmtpServer
from tests.web_support import Clock, write_config


def message(to: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Lettre <lettre@example.org>"
    m["To"] = to
    m["Subject"] = "Essai"
    m.set_content("Bonjour")
    return m


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpSettings("mail.example.org", 587, "starttls")),
        ("smtp://mail.example.org?tls=ssl", SmtpSettings("mail.example.org", 465, "ssl")),
        ("smtp://127.0.0.1:2525?tls=none", SmtpSettings("127.0.0.1", 2525, "none")),
        (
            "smtp://lettre%40example.org:p%40ss%3Aw@mail.example.org:587",
            SmtpSettings("mail.example.org", 587, "starttls", "lettre@example.org", "p@ss:w"),
        ),
    ],
)
def test_parse_smtp_url(url: str, expected: SmtpSettings) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url", ["http://mail.example.org", "smtp://", "smtp://h?tls=maybe", "smtp://h:port"]
)
def test_bad_smtp_urls(url: str) -> None:
    with pytest.raises(SettingError) as error:
        parse_smtp_url(url)
    assert error.value.hint and error.value.exit_code == 2


@pytest.mark.usefixtures("english_staff")
def test_password_never_in_repr_and_missing_url_is_explained() -> None:
    settings = parse_smtp_url("smtp://u:topsecret@h")
    assert "topsecret" not in repr(settings)
    with pytest.raises(SettingError) as missing:
        settings_from_env({})
    assert "DIGEST_SMTP_URL is not set" in missing.value.message


def test_send_one_with_login(smtp_server_auth: SmtpServer) -> None:
    url = smtp_server_auth.url.replace("smtp://", "smtp://lettre:s3cret%20pass@")
    send_one(parse_smtp_url(url), message("lea@example.org"))
    (received,) = smtp_server_auth.wait_for(1)
    assert received.mail_from == "lettre@example.org"
    assert received.rcpt_tos == ("lea@example.org",)
    assert smtp_server_auth.recorder.logins == ["lettre"]


@pytest.mark.usefixtures("english_staff")
def test_wrong_password_is_a_delivery_error(smtp_server_auth: SmtpServer) -> None:
    url = smtp_server_auth.url.replace("smtp://", "smtp://lettre:wrong@")
    with pytest.raises(DeliveryError) as error:
        send_one(parse_smtp_url(url), message("lea@example.org"))
    assert "refused the login" in error.value.message
    assert smtp_server_auth.messages == []


def test_refusals_are_reported_per_recipient(smtp_server: SmtpServer) -> None:
    smtp_server.script.rcpt["gone@example.org"] = "550 5.1.1 No such user"
    smtp_server.script.rcpt["later@example.org"] = "451 4.3.0 Try again later"
    with SmtpConnection(parse_smtp_url(smtp_server.url)) as connection:
        refused = connection.send(
            message("ok@example.org"), ["ok@example.org", "gone@example.org", "later@example.org"]
        )
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            connection.send(message("gone@example.org"))
        connection.send(message("again@example.org"))  # the session is still usable
    assert [(r.address, r.code, r.permanent) for r in refused] == [
        ("gone@example.org", 550, True),
        ("later@example.org", 451, False),
    ]
    assert [m.rcpt_tos for m in smtp_server.wait_for(2)] == [
        ("ok@example.org",),
        ("again@example.org",),
    ]
    with pytest.raises(DeliveryError) as error:
        send_one(parse_smtp_url(smtp_server.url), message("gone@example.org"))
    assert "550" in error.value.message


def test_scripted_421_and_dropped_connections(smtp_server: SmtpServer) -> None:
    settings = parse_smtp_url(smtp_server.url)
    smtp_server.script.mail = "421 4.7.0 Too many connections"
    with SmtpConnection(settings) as connection, pytest.raises(smtplib.SMTPException):
        connection.send(message("a@example.org"))
    smtp_server.script.mail = None
    smtp_server.script.drop_rcpt.add("cut@example.org")
    with SmtpConnection(settings) as connection, pytest.raises(smtplib.SMTPServerDisconnected):
        connection.send(message("cut@example.org"))
    smtp_server.script.drop_data_after = 1
    with SmtpConnection(settings) as connection:
        connection.send(message("first@example.org"))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            connection.send(message("second@example.org"))
    assert [m.rcpt_tos for m in smtp_server.messages] == [("first@example.org",)]


@pytest.mark.usefixtures("english_staff")
def test_unreachable_server_is_a_delivery_error() -> None:
    with pytest.raises(DeliveryError) as error:
        send_one(SmtpSettings("127.0.0.1", 1, "none", timeout=2), message("a@example.org"))
    assert "cannot talk to the mail server 127.0.0.1:1" in error.value.message


def test_confirmation_message(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "https://lettre.example.org"))
    env = make_env(config, autoescape=False)
    words = site_words(messages("fr"))
    url = "https://lettre.example.org/confirm/c.1.2.abcdef01.AAAAAAAAAAAAAAAAAAAAAA"
    now = datetime(2026, 5, 11, 9, tzinfo=UTC)
    built = confirmation_message(config, env, words, "lea@example.org", url, now)
    body = built.get_content()
    assert built["To"] == "lea@example.org"
    assert built["Message-ID"].endswith("@example.org>")
    assert url in body and "7 jours" in body and "«\u00a0Lettre du Cerdd\u00a0»" in body
    assert "ignorez ce message\u00a0: vous" in body  # the newsletter's French spacing
    assert "&" not in body  # plain text: nothing HTML-escaped
    assert built.get_content_type() == "text/plain"


NOW = datetime(2026, 5, 11, 9, tzinfo=UTC)


def build(subscriber_id: int, address: str, now: datetime) -> EmailMessage:
    return message(address)


def owe(path: Path, addresses: list[str], now: datetime) -> None:
    """Pending subscribers, each owed a confirmation email (what the subscribe page does)."""
    with Store(path) as store:
        for address in addresses:
            found = store.create_subscriber(
                address, "", "pending", "fr", now, event="subscribe", source="test"
            )
            assert found is not None
            store.owe_confirmation(found, now)


def owed_state(path: Path) -> list[tuple[str, str | None, int]]:
    with Store(path) as store:
        return store.db.execute(
            "SELECT email, confirm_due_at, confirm_attempts FROM subscribers ORDER BY id"
        ).fetchall()


def eventually(check: Callable[[], bool], what: str) -> None:
    """Wait (10 s at most) for the mailer thread to get there: a bound, not a measurement."""
    deadline = time.monotonic() + 10
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def test_mailer_reuses_one_session_and_recovers_from_a_drop(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    path, clock = tmp_path / "digest.db", Clock(NOW)
    owe(path, [f"r{n}@example.org" for n in range(3)], clock())
    mailer = Mailer(parse_smtp_url(smtp_server.url), path, build, clock)
    mailer.start()
    try:
        smtp_server.wait_for(3)
        assert smtp_server.sessions == 1
        smtp_server.script.drop_data_at = {4}  # the session dies at the next DATA
        owe(path, ["r3@example.org"], clock())
        mailer.wake()
        received = smtp_server.wait_for(4)
    finally:
        mailer.stop()
    assert [m.rcpt_tos[0] for m in received] == [f"r{n}@example.org" for n in range(4)]
    assert smtp_server.sessions == 2  # a fresh session took over
    assert [due for _, due, _ in owed_state(path)] == [None] * 4  # nothing owed any more


def test_an_owed_confirmation_survives_an_outage_and_a_restart(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    path, clock = tmp_path / "digest.db", Clock(NOW)
    owe(path, ["lea@example.org"], clock())
    smtp_server.script.rcpt["lea@example.org"] = "451 4.3.0 Try again later"
    mailer = Mailer(parse_smtp_url(smtp_server.url), path, build, clock)
    mailer.start()
    eventually(lambda: owed_state(path)[0][2] == 1, "a first failed try recorded")
    mailer.stop()  # the site restarts while the email is still owed
    [(_, due, _)] = owed_state(path)
    assert due is not None and datetime.fromisoformat(due) == NOW + timedelta(minutes=1)
    assert smtp_server.messages == []
    del smtp_server.script.rcpt["lea@example.org"]  # the mail server is back
    clock.advance(minutes=2)
    restarted = Mailer(parse_smtp_url(smtp_server.url), path, build, clock)
    restarted.start()  # looks at the store at once
    try:
        [received] = smtp_server.wait_for(1)
    finally:
        restarted.stop()
    assert received.rcpt_tos == ("lea@example.org",)
    assert owed_state(path) == [("lea@example.org", None, 1)]


def test_a_refused_address_is_given_up_at_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    path, clock = tmp_path / "digest.db", Clock(NOW)
    owe(path, ["gone@example.org", "lea@example.org"], clock())
    smtp_server.script.rcpt["gone@example.org"] = "550 5.1.1 No such user"
    mailer = Mailer(parse_smtp_url(smtp_server.url), path, build, clock)
    mailer.start()
    try:
        [received] = smtp_server.wait_for(1)
        eventually(lambda: owed_state(path)[0][1] is None, "the refused one given up")
    finally:
        mailer.stop()
    assert received.rcpt_tos == ("lea@example.org",)
    assert [due for _, due, _ in owed_state(path)] == [None, None]


def test_retry_delays_double_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 7, 30)] == [60, 120, 240, 3600, 3600]
