"""Mail that arrives about subscribers, piped into `digest subscribers ...` as a mail server
would: unsubscribe requests to the List-Unsubscribe mailto, and bounce reports (DSN) to the
return path. The messages they answer are real ones, sent to the aiosmtpd fixture.
"""

from __future__ import annotations

import random
import subprocess
import urllib.parse
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.store import Store
from tests.deliver_support import ISSUE, parse
from tests.smtp_server import SmtpServer
from tests.test_deliver_cli import command, digest, environment, prepare


def pipe(config: Path, subcommand: str, raw: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(config, "subscribers", subcommand),
        input=raw.decode(),
        capture_output=True,
        text=True,
        check=False,
        env=environment(None),
        timeout=60,
    )


def unsubscribe_mail(config: Path, raw: bytes) -> subprocess.CompletedProcess[str]:
    return pipe(config, "unsubscribe-mail", raw)


def in_english(config: Path) -> None:
    """Switch the prepared config to `newsletter.language: en`."""
    text = config.read_text(encoding="utf-8")
    assert "  language: fr\n" in text
    config.write_text(text.replace("  language: fr\n", "  language: en\n"), encoding="utf-8")


def test_the_unsubscribe_mailto_unsubscribes_whoever_its_token_names(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A mail client writes to the List-Unsubscribe mailto with the subject it gives: that
    email, piped into `digest subscribers unsubscribe-mail`, unsubscribes its reader only."""
    config, emails = prepare(tmp_path, 2)
    assert digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url).returncode == 0
    received = {m.rcpt_tos[0]: parse(m.data) for m in smtp_server.wait_for(2)}
    mailto = received[emails[1]]["List-Unsubscribe"].split(",")[1].strip(" <>")
    address, _, query = mailto.removeprefix("mailto:").partition("?")
    subject = urllib.parse.parse_qs(query)["subject"][0]
    assert address == "lettre@example.org" and subject.startswith("unsubscribe u.")
    request = EmailMessage()  # what the reader's mail client sends
    request["From"] = emails[0]  # a lie: the token decides, not this line
    request["To"] = address
    request["Subject"] = "Re: " + subject
    request.set_content("Merci de me désinscrire.")
    done = unsubscribe_mail(config, request.as_bytes())
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{emails[1]} : désinscrite\n"
    with Store(tmp_path / "digest.db") as store:
        statuses = {e: store.subscriber_by_email(e).status for e in emails}  # type: ignore[union-attr]
        sid = store.subscriber_by_email(emails[1]).id  # type: ignore[union-attr]
        assert store.consent_log(sid)[-1].source == "mail"
    assert statuses == {emails[0]: "confirmed", emails[1]: "unsubscribed"}
    again = unsubscribe_mail(config, request.as_bytes())
    assert again.returncode == 0 and again.stdout == f"{emails[1]} : déjà désinscrite\n"
    assert digest(config, "subscribers", "erase", emails[1], "--yes").returncode == 0
    erased = unsubscribe_mail(config, request.as_bytes())
    assert erased.returncode == 0 and erased.stdout == f"#{sid} : déjà effacée\n"
    in_english(config)
    again = unsubscribe_mail(config, request.as_bytes())
    assert again.returncode == 0 and again.stdout == f"#{sid}: already erased\n"


def test_an_unsubscribe_email_says_what_the_address_was(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A pending or bounced address leaves too; the report says what it was."""
    config, emails = prepare(tmp_path, 1)
    assert digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url).returncode == 0
    (received,) = smtp_server.wait_for(1)
    subject = parse(received.data)["List-Unsubscribe"].split("subject=")[1].split(">")[0]
    request = EmailMessage()
    request["Subject"] = urllib.parse.unquote(subject)
    with Store(tmp_path / "digest.db") as store:
        sid = store.subscriber_by_email(emails[0]).id  # type: ignore[union-attr]
        store.db.execute("UPDATE subscribers SET status = 'bounced' WHERE id = ?", (sid,))
        store.db.commit()
    done = unsubscribe_mail(config, request.as_bytes())
    assert done.returncode == 0 and done.stdout == f"{emails[0]} : désinscrite (était en échec)\n"


FORGED = "unsubscribe u.1.0000abcd.AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.parametrize(
    ("subject", "language", "said"),
    [
        ("unsubscribe", "fr", "stdin : aucun jeton de désinscription dans l'objet de ce message"),
        (FORGED, "fr", "stdin : le jeton de désinscription de l'objet n'est pas valide"),
        ("bonjour", "fr", "stdin : aucun jeton de désinscription dans l'objet de ce message"),
        ("bonjour", "en", "stdin: no unsubscribe token in the subject of this email"),
        (FORGED, "en", "stdin: the unsubscribe token in the subject is not valid"),
    ],
)
def test_an_unsubscribe_email_without_a_genuine_token_changes_nothing(
    tmp_path: Path, subject: str, language: str, said: str
) -> None:
    """Exit 2 (the mail server bounces it to its sender, stderr included), said in the
    newsletter's language like bounce-mail's report."""
    config, emails = prepare(tmp_path, 1)
    if language == "en":
        in_english(config)
    forged = EmailMessage()
    forged["From"] = emails[0]
    forged["To"] = "lettre@example.org"
    forged["Subject"] = subject
    forged.set_content("x")
    done = unsubscribe_mail(config, forged.as_bytes())
    assert done.returncode == 2
    summary = {
        "fr": "1 message sur 1 sans jeton de désinscription valide ; le lien de désinscription",
        "en": "1 of 1 email without a valid unsubscribe token; the unsubscribe link",
    }[language]
    first, second = done.stderr.splitlines()
    assert first == said + {"fr": " : rien n'est fait", "en": ": nothing done"}[language]
    assert second.startswith(summary) and "error" not in done.stderr
    with Store(tmp_path / "digest.db") as store:
        assert store.subscriber_by_email(emails[0]).status == "confirmed"  # type: ignore[union-attr]


def test_the_summary_counts_the_emails_that_named_no_one(tmp_path: Path) -> None:
    config, _ = prepare(tmp_path, 1)
    files = []
    for n, subject in enumerate(["bonjour", FORGED, "hello"]):
        message = EmailMessage()
        message["Subject"] = subject
        files.append(tmp_path / f"{n}.eml")
        files[-1].write_bytes(message.as_bytes())
    done = digest(config, "subscribers", "unsubscribe-mail", *map(str, files))
    assert done.returncode == 2
    assert "3 messages sur 3 sans jeton" in done.stderr


def report(original: bytes, status: str, action: str = "failed", whole: bool = False) -> bytes:
    """A DSN as Postfix writes one: the explanation, the status, the original's headers
    (or the whole original message)."""
    quoted = original if whole else original.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    kind = b"message/rfc822" if whole else b"text/rfc822-headers"
    return b"\r\n".join(
        [
            b"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)",
            b"To: lettre@example.org",
            b"Subject: Undelivered Mail Returned to Sender",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="B0"',
            b"",
            b"--B0",
            b"Content-Type: text/plain; charset=us-ascii",
            b"",
            b"I'm sorry to have to inform you that your message could not be delivered.",
            b"",
            b"--B0",
            b"Content-Type: message/delivery-status",
            b"",
            b"Reporting-MTA: dns; mx.example.net",
            b"",
            b"Final-Recipient: rfc822; someone@example.org",
            b"Action: " + action.encode(),
            b"Status: " + status.encode(),
            b"Diagnostic-Code: smtp; 550 " + status.encode() + b" Recipient address rejected",
            b"",
            b"--B0",
            b"Content-Type: " + kind,
            b"",
            quoted,
            b"--B0--",
            b"",
        ]
    )


def sent_to(smtp_server: SmtpServer, count: int) -> dict[str, bytes]:
    return {m.rcpt_tos[0]: m.data for m in smtp_server.wait_for(count)}


def statuses(path: Path, emails: list[str]) -> list[str]:
    with Store(path) as store:
        return [store.subscriber_by_email(e).status for e in emails]  # type: ignore[union-attr]


def test_a_mailbox_error_reported_later_marks_the_address_bounced(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, emails = prepare(tmp_path, 3)
    assert digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url).returncode == 0
    sent = sent_to(smtp_server, 3)
    gone = pipe(config, "bounce-mail", report(sent[emails[1]], "5.1.1"))
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout == f"{emails[1]} : adresse en échec (5.1.1), ne recevra plus la lettre\n"
    refused = pipe(config, "bounce-mail", report(sent[emails[2]], "5.7.1", whole=True))
    assert refused.stdout == f"{emails[2]} : échec de remise signalé (5.7.1), adresse gardée\n"
    assert statuses(tmp_path / "digest.db", emails) == ["confirmed", "bounced", "confirmed"]
    with Store(tmp_path / "digest.db") as store:
        sid = store.subscriber_by_email(emails[1]).id  # type: ignore[union-attr]
        assert store.consent_log(sid)[-1].source == "dsn"
    table = digest(config, "report", ISSUE)
    assert "1 envoyé, 0 différé, 2 en échec (dont 1 rejeté)" in table.stdout
    assert "5.1.1 (DSN) smtp; 550 5.1.1" in table.stdout


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_delay_notice_changes_nothing_and_says_it_is_one(
    tmp_path: Path, smtp_server: SmtpServer, language: str
) -> None:
    config, emails = prepare(tmp_path, 1)
    if language == "en":
        in_english(config)
    assert digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url).returncode == 0
    original = sent_to(smtp_server, 1)[emails[0]]
    done = pipe(config, "bounce-mail", report(original, "4.4.1", action="delayed"))
    assert done.returncode == 0 and done.stdout == ""
    said = {
        "fr": " : simple avis de retard (4.4.1), le serveur réessaie : rien n'est fait\n",
        "en": ": only a delay notice (4.4.1), the server keeps trying: nothing done\n",
    }
    assert done.stderr == emails[0] + said[language]
    assert statuses(tmp_path / "digest.db", emails) == ["confirmed"]
    table = digest(config, "report", ISSUE, "--format", "csv")
    assert f"{emails[0]}," not in table.stdout  # the row is still `sent`, not a problem


@pytest.mark.parametrize("case", ["delayed elsewhere", "forged", "auto-reply", "other list"])
def test_what_is_not_a_failure_of_our_message_changes_nothing(
    tmp_path: Path, smtp_server: SmtpServer, case: str
) -> None:
    config, emails = prepare(tmp_path, 1)
    assert digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url).returncode == 0
    original = sent_to(smtp_server, 1)[emails[0]]
    message_id = parse(original)["Message-ID"]
    random_part = message_id.split(".")[2].split("@")[0]  # <ISSUE.SUBSCRIBER.RANDOM@domain>
    other = "0" * len(random_part) if random_part != "0" * len(random_part) else "1" * 12
    raw = {
        # a genuine delay notice, but about a message digest never sent
        "delayed elsewhere": report(
            b"Message-ID: <42@elsewhere.example>\r\n\r\nx", "4.4.1", "delayed"
        ),
        # the right shape and subscriber, not the random part digest gave that message
        "forged": report(original.replace(random_part.encode(), other.encode()), "5.1.1"),
        "auto-reply": b"From: x@example.org\r\nSubject: Absent\r\n\r\nJe suis absent.\r\n",
        "other list": report(b"Message-ID: <42@elsewhere.example>\r\n\r\nx", "5.1.1"),
    }[case]
    done = pipe(config, "bounce-mail", raw)
    assert done.returncode == 0  # never bounce a bounce
    assert done.stdout == ""
    assert (
        done.stderr
        == "stdin : pas un rapport d'échec sur un message de la lettre : rien n'est fait\n"
    )
    assert statuses(tmp_path / "digest.db", emails) == ["confirmed"]
    in_english(config)
    english = pipe(config, "bounce-mail", raw)
    assert english.stderr == "stdin: not a failure report about one of our messages: nothing done\n"


def test_mangled_reports_are_ignored_without_failing(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, emails = prepare(tmp_path, 1)
    assert digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url).returncode == 0
    whole = report(sent_to(smtp_server, 1)[emails[0]], "5.1.1")
    rng = random.Random(5)
    cases = [whole[: len(whole) // 2], b"", b"\xff\xfe\x00garbage"]
    cases += [bytes(rng.randrange(256) for _ in range(400)) for _ in range(3)]
    # Python's header parser (3.11 at least) raises IndexError on this quoted Message-ID
    cases.append(report(b"Message-ID: <a@\r\n\r\nx", "5.1.1", whole=True))
    files = []
    for n, raw in enumerate(cases):
        files.append(tmp_path / f"{n}.eml")
        files[-1].write_bytes(raw)
    done = digest(config, "subscribers", "bounce-mail", *map(str, files))
    assert done.returncode == 0, done.stderr
    assert statuses(tmp_path / "digest.db", emails) == ["confirmed"]
    lines = done.stderr.splitlines()
    assert [line.split(" : ")[0] for line in lines] == list(map(str, files)), done.stderr
    assert "pas un rapport d'échec" in lines[0]
    assert " : rapport illisible, rien n'est fait (IndexError: " in lines[-1]


def test_a_bounced_unsubscribe_email_speaks_the_newsletters_language(tmp_path: Path) -> None:
    """Its output goes back to the reader who wrote: DIGEST_LANG (staff's) does not apply."""
    config, emails = prepare(tmp_path, 1)
    forged = EmailMessage()
    forged["From"], forged["To"], forged["Subject"] = emails[0], "lettre@example.org", "bonjour"
    forged.set_content("x")
    done = subprocess.run(
        command(config, "subscribers", "unsubscribe-mail"),
        input=forged.as_string(),
        capture_output=True,
        text=True,
        check=False,
        env={**environment(None), "DIGEST_LANG": "en"},
        timeout=60,
    )
    assert done.returncode == 2 and "stdin : aucun jeton de désinscription" in done.stderr
