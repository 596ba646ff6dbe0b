"""`digest send` and `digest report` as real processes: SIGKILL in the middle of a list,
two sends at once, test copies, dry runs, missing settings, the report formats.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.period import week_of
from digest.store import Store
from tests.deliver_support import ISSUE, SUBJECT, add_subscribers, make_config, parse, store_issue
from tests.smtp_server import SmtpServer, TricklingServer
from tests.web_support import KEYS

SECRET = KEYS.signing.decode()


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "digest", "--config", str(config), *args]


def environment(smtp: str | None, secret: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if smtp:
        env["DIGEST_SMTP_URL"] = smtp
    if secret:
        env["DIGEST_SECRET"] = SECRET
    return env


def digest(
    config: Path, *args: str, smtp: str | None = None, secret: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(config, *args),
        capture_output=True,
        text=True,
        check=False,
        env=environment(smtp, secret),
        timeout=120,
    )


def prepare(tmp_path: Path, count: int, extra: str = "") -> tuple[Path, list[str]]:
    config = make_config(tmp_path, extra)
    with Store(config.store) as store:
        emails = add_subscribers(store, count)
        store_issue(store)
    return config.path, emails


def store_issue_as(tmp_path: Path, status: str, issue_id: str) -> None:
    with Store(tmp_path / "digest.db") as store:
        store_issue(store, status, issue_id=issue_id)


def send_again_reaches_everyone_once(config: Path, server: SmtpServer, emails: list[str]) -> None:
    """Once the relay is fixed, `digest send` again: every address gets the issue once."""
    again = digest(config, "send", smtp=server.url)
    assert again.returncode == 0, again.stderr
    assert f"{len(emails)} envoyés, 0 différé, 0 en échec" in again.stdout
    assert {a: len(ids) for a, ids in by_recipient(server).items()} == dict.fromkeys(emails, 1)


def by_recipient(server: SmtpServer) -> dict[str, list[str]]:
    """Each recipient's Message-IDs, in the order they arrived."""
    found: dict[str, list[str]] = defaultdict(list)
    for received in list(server.messages):
        (address,) = received.rcpt_tos
        found[address].append(str(parse(received.data)["Message-ID"]))
    return found


def subscriber_statuses(config: Path) -> dict[str, str]:
    """`digest subscribers list --format csv`: each address's status."""
    listed = digest(config, "subscribers", "list", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    return {r["email"]: r["status"] for r in csv.DictReader(io.StringIO(listed.stdout))}


def stopped_mid_send(
    config: Path, issue: str, server: SmtpServer, signal_number: int
) -> subprocess.CompletedProcess[str]:
    """`digest send --issue` stopped by `signal_number` once 800 messages were accepted.

    From the 800th message on the server is slow, so the signal lands mid-list even when
    this test process is starved on a loaded machine (a fast send could otherwise finish).
    """
    server.script.slow_after, server.script.data_delay = 800, 0.2
    first = subprocess.Popen(
        command(config, "send", "--issue", issue), env=environment(server.url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        server.wait_for(800, timeout=60)
    finally:
        first.send_signal(signal_number)
        out, err = first.communicate(timeout=60)
    server.script.data_delay = 0
    return subprocess.CompletedProcess(first.args, first.returncode, out, err)


@pytest.mark.parametrize(
    ("signal_number", "exit_code"),
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130), (signal.SIGTERM, 143)],
)
def test_killed_in_the_middle_then_resumed(
    tmp_path: Path, smtp_server: SmtpServer, signal_number: int, exit_code: int
) -> None:
    """Stop a send of 3,000 mid-list, run it again: everyone gets it. Ctrl-C and SIGTERM
    stop cleanly (issue 10: a SIGTERM doubled 22 messages on resume): each address exactly
    once. kill -9 cannot be caught: only messages whose reply was not yet written may come
    twice, with the same Message-ID."""
    config, emails = prepare(tmp_path, 3000, "delivery:\n  batch: 50\n")
    first = stopped_mid_send(config, ISSUE, smtp_server, signal_number)
    out, err = first.stdout, first.stderr
    assert first.returncode == exit_code, err
    before = len(smtp_server.messages)
    assert 800 <= before < 3000, "the signal must land in the middle of the list"
    if signal_number != signal.SIGKILL:
        name = signal.Signals(signal_number).name
        assert f"{name} reçu : arrêt dès que les messages en cours ont leur réponse" in err
        assert f"erreur : envoi de {ISSUE} arrêté par {name}" in err and "Traceback" not in err
        assert f"{before} envoyés" in out, "what the server accepted is recorded"
    again = digest(config, "send", smtp=smtp_server.url)  # the one being sent, by default
    assert again.returncode == 0, again.stderr
    assert "3000 envoyés, 0 différé, 0 en échec" in again.stdout
    received = by_recipient(smtp_server)
    assert set(received) == set(emails), "nobody is skipped"
    twice = {a: ids for a, ids in received.items() if len(ids) > 1}
    if signal_number == signal.SIGKILL:
        assert all(len(ids) == 2 and ids[0] == ids[1] for ids in twice.values()), twice
        # Recorded as they come: only the few in flight or not yet written (4 connections),
        # not a batch of 50.
        assert len(twice) <= 20, len(twice)
    else:
        assert twice == {}, "nobody is sent twice after a clean stop"
    assert len(smtp_server.messages) == 3000 + len(twice)
    table = digest(config, "report", ISSUE)
    assert table.stdout.startswith(f"{ISSUE} : 3000 envoyés, 0 différé, 0 en échec")
    problems = digest(config, "report", ISSUE, "--format", "csv").stdout.splitlines()
    assert problems == ["email,status,bounced,attempts,last_error,updated_at"]
    assert subscriber_statuses(config) == dict.fromkeys(emails, "confirmed")
    with Store(tmp_path / "digest.db") as store:
        issue = store.issue(ISSUE)
        assert issue is not None and issue.status == "sent"


def test_two_sends_at_once_send_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, emails = prepare(tmp_path, 200, "delivery:\n  connections: 2\n  batch: 10\n")
    smtp_server.script.data_delay = 0.3  # slow while the second one tries, whatever the load
    first = subprocess.Popen(
        command(config, "send", "--issue", ISSUE), env=environment(smtp_server.url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    smtp_server.wait_for(1, timeout=30)
    second = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    smtp_server.script.data_delay = 0
    _, err = first.communicate(timeout=120)
    assert second.returncode == 75, second.stderr
    assert "une autre exécution de digest est en cours et tient le verrou" in second.stderr
    assert first.returncode == 0, err
    received = by_recipient(smtp_server)
    assert set(received) == set(emails) and all(len(ids) == 1 for ids in received.values())


def test_test_copy_goes_to_one_address_and_is_not_recorded(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, emails = prepare(tmp_path, 5)
    with Store(tmp_path / "digest.db") as store:
        store.set_issue_status(ISSUE, "built")  # test-sent before approval
    store_issue_as(tmp_path, "built", "2023-W21")  # a newer mid-week preview (bare build)
    run = digest(config, "send", "--to", "Staff@Example.org", smtp=smtp_server.url)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{ISSUE} : copie de test envoyée à Staff@Example.org (<")
    assert run.stderr == (
        f"{ISSUE} : choisie par défaut (construite, 20 articles, faite le 2023-05-15 09:00) ;"
        " --issue ISSUE pour en choisir une autre\n"
        "note : le lien « Voir dans le navigateur » de cette copie mènera à la page de"
        f" {ISSUE} une fois la lettre envoyée\n"
    )
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ("staff@example.org",)
    message = parse(received.data)
    assert message["Subject"] == "[TEST] " + SUBJECT
    assert "/unsubscribe/test" in message["List-Unsubscribe"]
    with Store(tmp_path / "digest.db") as store:
        issue = store.issue(ISSUE)
        assert issue is not None and issue.status == "built"
        assert store.audience(ISSUE) == 0
        # A subscriber's own address gets their own links.
    own = digest(config, "send", "--to", emails[2], smtp=smtp_server.url)
    assert own.returncode == 0, own.stderr
    assert "/unsubscribe/u.3." in parse(smtp_server.messages[-1].data)["List-Unsubscribe"]


def test_dry_run_shows_who_and_sends_nothing(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, emails = prepare(tmp_path, 12)
    run = digest(config, "send", "--issue", ISSUE, "--dry-run", smtp=None, secret=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"{ISSUE} : enverrait à 12 abonnés"
    assert [line.strip() for line in lines[1:11]] == emails[:10]
    assert lines[11].strip() == "… et 2 autres"
    assert smtp_server.messages == []
    with Store(tmp_path / "digest.db") as store:
        assert store.audience(ISSUE) == 0


@pytest.mark.parametrize(
    ("smtp", "secret", "expected"),
    [
        (None, True, "DIGEST_SMTP_URL n'est pas défini"),
        ("yes", False, "DIGEST_SECRET n'est pas défini"),
        ("http://mail.example.org", True, "DIGEST_SMTP_URL n'est pas une URL smtp://"),
    ],
)
def test_missing_settings_are_clear_errors(
    tmp_path: Path, smtp_server: SmtpServer, smtp: str | None, secret: bool, expected: str
) -> None:
    config, _ = prepare(tmp_path, 2)
    url = smtp_server.url if smtp == "yes" else smtp
    run = digest(config, "send", "--issue", ISSUE, smtp=url, secret=secret)
    assert run.returncode == 2  # bad configuration (DESIGN.md §3), not a failed job
    assert expected in run.stderr and "\nconseil : " in run.stderr  # main's French prefix
    assert smtp_server.messages == []


def test_a_sender_without_address_is_bad_config(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, _ = prepare(tmp_path, 2)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("<lettre@example.org>", ""), encoding="utf-8")
    run = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert run.returncode == 2
    assert "newsletter.sender n'a pas d'adresse e-mail" in run.stderr
    assert smtp_server.messages == []
    with Store(tmp_path / "digest.db") as store:
        assert store.audience(ISSUE) == 0, "a config problem freezes no audience"


def test_paused_send_exits_1_then_report_lists_problems(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    extra = "delivery:\n  retry_base: 0.05\n  retry_wait: 0\n  batch: 5\n"
    config, emails = prepare(tmp_path, 20, extra)
    smtp_server.script.rcpt[emails[1]] = "550 5.1.1 No such user"
    smtp_server.script.rcpt[emails[2]] = "451 4.3.0 Try later"
    smtp_server.script.rcpt[emails[10]] = "421 4.7.0 Slow down"
    paused = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert paused.returncode == 1
    assert "en pause" in paused.stderr and "421 4.7.0 Slow down" in paused.stderr
    table = digest(config, "report", ISSUE)
    assert table.returncode == 0, table.stderr
    assert "0 pas encore tenté" not in table.stdout
    rows = {line.split()[0]: line.split(maxsplit=1)[1] for line in table.stdout.splitlines()[1:]}
    assert rows[emails[1]].startswith("rejeté ") and rows[emails[2]].startswith("différé ")
    as_csv = digest(config, "report", ISSUE, "--format", "csv")
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert records[0].keys() == {
        "email",
        "status",
        "bounced",
        "attempts",
        "last_error",
        "updated_at",
    }
    found = {r["email"]: r for r in records}
    assert found[emails[1]]["status"] == "bounced" and "5.1.1" in found[emails[1]]["last_error"]
    smtp_server.script.rcpt.pop(emails[10])
    resumed = digest(config, "send", smtp=smtp_server.url)
    assert resumed.returncode == 0, resumed.stderr
    assert "18 envoyés, 1 différé, 1 en échec (dont 1 rejeté)" in resumed.stdout


def test_a_used_up_quota_is_exit_0_and_says_what_is_left(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, emails = prepare(tmp_path, 20, "delivery:\n  per_hour: 8\n  batch: 5\n")
    first = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert first.returncode == 0, first.stderr
    assert "8 envoyés" in first.stdout and "12 pas encore tentés" in first.stdout
    assert "12 laissés pour plus tard : le quota d'envoi (8 par heure)" in first.stdout
    again = digest(config, "send", smtp=smtp_server.url)  # within the hour: nothing more
    assert again.returncode == 0 and "8 envoyés" in again.stdout
    got = by_recipient(smtp_server)
    assert len(got) == 8 and set(got) <= set(emails)
    assert all(len(messages) == 1 for messages in got.values())


def test_nothing_to_send_is_exit_0_and_an_unknown_issue_is_an_error(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config, _ = prepare(tmp_path, 3)
    with Store(tmp_path / "digest.db") as store:
        store.set_issue_status(ISSUE, "built")  # not approved: `digest send` alone skips it
    idle = digest(config, "send", smtp=smtp_server.url)
    assert idle.returncode == 0, idle.stderr
    assert idle.stdout.startswith("rien à envoyer : aucune lettre approuvée")
    unknown = digest(config, "send", "--issue", "2031-W02", smtp=smtp_server.url)
    assert unknown.returncode == 2 and "aucune lettre 2031-W02" in unknown.stderr
    no_report = digest(config, "report", "2023-W99")
    assert no_report.returncode == 2
    assert "aucune lettre 2023-W99 dans le stockage" in no_report.stderr
    named = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert named.returncode == 0 and "3 envoyés" in named.stdout
    again = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert again.returncode == 0 and "3 envoyés" in again.stdout
    assert len(smtp_server.messages) == 3


def test_build_then_send_sends_what_was_built(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = make_config(tmp_path)
    for recap in (Path(__file__).parent.parent / "content" / "recaps").glob("2023-*.md"):
        (tmp_path / "recaps" / recap.name).write_bytes(recap.read_bytes())
    # The overrides file's subject and preheader (DESIGN §6) are the ones sent.
    (tmp_path / "content" / "issues").mkdir(parents=True)
    (tmp_path / "content" / "issues" / f"{ISSUE}.md").write_text(
        "---\nsubject: 'Coopérer : la journée d’Arras'\npreheader: Et quatre récits\n---\n"
    )
    out = tmp_path / "out"
    built = digest(config.path, "build", "--week", ISSUE, "--offline", "--out", str(out))
    assert built.returncode == 0, built.stderr
    subject = "Coopérer\u00a0: la journée d’Arras"
    data = json.loads((out / "digest.json").read_text(encoding="utf-8"))
    assert (data["subject"], data["preheader"]) == (subject, "Et quatre récits")
    with Store(config.store) as store:
        emails = add_subscribers(store, 3)
        assert store.issue_subject(ISSUE) == subject
    sent = digest(config.path, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert sent.returncode == 0, sent.stderr
    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == emails
    message = parse(smtp_server.messages[0].data)
    assert message["Subject"] == " ".join(subject.split())  # a header folds its spaces
    text = message.get_body(("plain",))
    assert text is not None and text.get_param("format") == "flowed"
    stored = (out / "digest.txt").read_text(encoding="utf-8")
    body = str(text.get_content()).replace("\r\n", "\n")
    own = message["List-Unsubscribe"].split(",")[0].strip("<> ")
    expected = stored.replace("%%view_url%%", f"https://lettre.example.org/archives/{ISSUE}/")
    preferences = re.search(r"https://\S+/preferences/p\.\S+", body)
    assert preferences is not None
    expected = expected.replace("%%preferences_url%%", preferences.group())
    assert body == expected.replace("%%unsubscribe_url%%", own)
    assert "Retour sur la deuxième journée régionale" in body


def test_dry_run_while_sending_shows_who_is_left(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config, emails = prepare(tmp_path, 6, "delivery:\n  retry_wait: 0\n")
    smtp_server.script.rcpt[emails[4]] = "451 4.3.0 Try later"
    sent = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert sent.returncode == 0, sent.stderr
    assert "les adresses différées seront réessayées au prochain `digest send`" in sent.stderr
    run = digest(config, "send", "--dry-run", secret=False)
    assert run.stdout.splitlines() == [f"{ISSUE} : enverrait à 1 abonné", f"  {emails[4]}"]


def test_send_picks_what_run_would_send_and_says_which(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """An approved issue past its deadline is not what a bare `digest send` sends: weeks
    late, it goes out only when named."""
    config, _ = prepare(tmp_path, 3)  # 2023-W19, approved, long past its deadline
    stale = digest(config, "send", "--dry-run", secret=False)
    assert stale.returncode == 0, stale.stderr
    assert stale.stdout.startswith("rien à envoyer")
    assert stale.stderr == (
        f"{ISSUE} : approuvée mais pas choisie : sa date limite (2023-05-17 09:00) est passée ;"
        f" `digest send --issue {ISSUE}` l'envoie quand même\n"
    )
    idle = digest(config, "send", smtp=smtp_server.url)
    assert idle.returncode == 0 and idle.stdout.startswith("rien à envoyer")
    assert smtp_server.messages == []
    this_week = week_of(datetime.now(UTC), ZoneInfo("Europe/Paris")).name  # not yet due
    store_issue_as(tmp_path, "approved", this_week)
    fresh = digest(config, "send", "--dry-run", secret=False)
    assert fresh.stdout.splitlines()[0] == f"{this_week} : enverrait à 3 abonnés"
    assert fresh.stderr == (
        f"{this_week} : choisie par défaut (approuvée, 20 articles, faite le 2023-05-15"
        " 09:00) ; --issue ISSUE pour en choisir une autre\n"
    )


def test_a_test_copy_with_nothing_built_is_one_clear_error(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path, "").path
    run = digest(config, "send", "--to", "staff@example.org", smtp=smtp_server.url)
    assert run.returncode == 2
    assert run.stdout == "" and run.stderr.startswith("erreur : aucune lettre n'est stockée\n")
    assert smtp_server.messages == []


def test_a_full_disk_mid_send_is_one_clear_error_and_doubles_nobody(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Issue 10: the disk filled up mid-send: a traceback, and the resume doubled a batch.
    The kernel's file size limit (RLIMIT_FSIZE) stands in for the full disk: the store's
    write-ahead log grows with each commit until a write is refused, as on a full disk."""
    config, emails = prepare(tmp_path, 1000, "delivery:\n  batch: 50\n")
    limit = (tmp_path / "digest.db").stat().st_size + 1_000_000

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run(
        command(config, "send", "--issue", ISSUE), env=environment(smtp_server.url),
        capture_output=True, text=True, check=False, timeout=120, preexec_fn=small_disk,
    )  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    lines = full.stderr.splitlines()
    # The store's own words for the fault (a file-size limit is an I/O error to SQLite).
    assert lines[-2].startswith(f"erreur : envoi de {ISSUE} arrêté : le disque a eu une erreur")
    assert lines[-1].startswith("conseil : libérez de la place là où se trouve le stockage")
    before = len(smtp_server.messages)
    assert 0 < before < 1000, "the disk filled up mid-list"
    again = digest(config, "send", smtp=smtp_server.url)
    assert again.returncode == 0, again.stderr
    assert "1000 envoyés, 0 différé, 0 en échec" in again.stdout
    received = by_recipient(smtp_server)
    assert set(received) == set(emails), "nobody is skipped"
    doubled = {a: ids for a, ids in received.items() if len(ids) > 1}
    if "personne ne reçoit la lettre deux fois" in lines[-1]:
        assert doubled == {}
    else:  # only those the hint counts, with the same Message-ID
        said = re.search(r"(\d+) messages? que le serveur venait d'accepter", lines[-1])
        assert said and len(doubled) == int(said[1]) < 50, lines[-1]
        assert all(ids[0] == ids[1] for ids in doubled.values())
    assert subscriber_statuses(config) == dict.fromkeys(emails, "confirmed")


def test_a_relay_that_trickles_cannot_hold_the_run_and_the_lock(
    tmp_path: Path, trickling_smtp: TricklingServer, smtp_server: SmtpServer
) -> None:
    """Issue 10: a relay that answers one byte every few seconds never trips a per-read
    timeout, and held the run (and the lock) without end. Each command has a total deadline
    (timeout= in DIGEST_SMTP_URL, 60 s by default): past it the run pauses, exit 1."""
    config, emails = prepare(tmp_path, 3, "delivery:\n  connections: 1\n")
    started = time.monotonic()
    slow = subprocess.Popen(
        command(config, "send", "--issue", ISSUE),
        env=environment(trickling_smtp.url + "&timeout=2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:  # each RCPT reply takes 13 s to trickle in: three of them, 40 s
        out, err = slow.communicate(timeout=20)
    finally:
        slow.kill()
    took = time.monotonic() - started
    assert slow.returncode == 1, err
    assert took < 15, f"the run held on for {took:.0f} s"
    assert "en pause : le serveur de courrier 127.0.0.1 n'a pas répondu à RCPT en 2 s" in err
    assert "timeout= dans DIGEST_SMTP_URL" in err and "Traceback" not in err
    assert "0 envoyé" in out and "3 en tout" in out
    # The lock is free, nobody was blamed, and a working relay gets the issue to everyone.
    send_again_reaches_everyone_once(config, smtp_server, emails)


def test_report_prints_no_escape_sequence_from_a_reply_or_a_bounce(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Issue 10: an ESC sequence in a forged bounce retitled the terminal of whoever ran
    `digest report`. What servers and bounces say is shown without control characters, in
    the table and in the CSV."""
    from tests.test_mailbox import pipe, report

    config, emails = prepare(tmp_path, 3)
    title = "\x1b]0;pwned\x07"  # "set the window title", then BEL
    smtp_server.script.rcpt[emails[0]] = f"550 5.1.1 {title}No such \x1b[31muser\x1b[0m"
    sent = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert sent.returncode == 0, sent.stderr
    original = next(m.data for m in smtp_server.messages if m.rcpt_tos == (emails[1],))
    dsn = report(original, "5.2.2").replace(
        b" Recipient address rejected", b" Mailbox full\x1b]0;owned\x07\x1b[2J\xc2\x9b31m"
    )
    assert pipe(config, "bounce-mail", dsn).returncode == 0
    table = digest(config, "report", ISSUE)
    as_csv = digest(config, "report", ISSUE, "--format", "csv")
    for shown in (table.stdout + table.stderr, as_csv.stdout + as_csv.stderr):
        assert not any(c in shown for c in "\x1b\x07\x9b"), repr(shown)
        assert "No such [31muser[0m" in shown or "No such user" in shown
        assert "Mailbox full" in shown
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert rows[emails[0]]["status"] == "bounced" and "]0;pwned" in rows[emails[0]]["last_error"]


@pytest.mark.parametrize(
    ("where", "reply", "said"),
    [
        ("rcpt", "550 relaying denied", "DIGEST_SMTP_URL"),
        ("data", "552 5.3.4 Message size exceeds fixed limit", "a refusé le message lui-même"),
    ],
)
def test_a_refusal_that_is_not_about_one_address_is_exit_1_and_blames_nobody(
    tmp_path: Path, smtp_server: SmtpServer, where: str, reply: str, said: str
) -> None:
    """Issue 10: a relay that denies relaying marked every subscriber bounced in a second,
    and a size limit failed every message for good; each issue after went to nobody."""
    config, emails = prepare(tmp_path, 200)
    if where == "rcpt":
        smtp_server.script.rcpt_default = reply
    else:
        smtp_server.script.data = reply
    refused = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert refused.returncode == 1, refused.stderr
    paused = f"erreur : envoi de {ISSUE} en pause : le serveur de courrier 127.0.0.1"
    assert paused in refused.stderr
    assert reply in refused.stderr and said in refused.stderr
    assert "0 en échec (dont 0 rejeté)" in refused.stdout
    assert subscriber_statuses(config) == dict.fromkeys(emails, "confirmed")
    rows = csv.DictReader(io.StringIO(digest(config, "report", ISSUE, "--format", "csv").stdout))
    assert {r["status"] for r in rows} <= {"deferred"}, "nobody failed or bounced"
    smtp_server.script.rcpt_default = smtp_server.script.data = None
    send_again_reaches_everyone_once(config, smtp_server, emails)  # the same issue, by default


def test_a_paused_send_says_why_and_what_to_do_in_the_staff_language(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The pause, its reason and its advice come from the catalogue: French for a French
    newsletter, today's English with DIGEST_LANG=en; the server's reply stays as it said it."""
    config, _ = prepare(tmp_path, 5, "delivery:\n  connections: 1\n")
    smtp_server.script.rcpt_default = "550 relaying denied"
    french = digest(config, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert french.returncode == 1, french.stderr
    error, hint = french.stderr.splitlines()[-2:]
    assert error == (
        f"erreur : envoi de {ISSUE} en pause : le serveur de courrier 127.0.0.1 a répondu :"
        " 550 relaying denied"
    )
    assert hint.startswith("conseil : le refus porte sur le côté de digest (relais, ")
    assert hint.endswith(
        "0 envoyé, 5 restants, aucune adresse n'est mise en cause : relancez `digest send`"
        " plus tard, ou une fois le problème réglé (personne ne reçoit la lettre deux fois)"
    )
    english = subprocess.run(
        command(config, "send", "--issue", ISSUE),
        capture_output=True,
        text=True,
        check=False,
        env={**environment(smtp_server.url), "DIGEST_LANG": "en"},
        timeout=120,
    )
    assert english.returncode == 1, english.stderr
    error, hint = english.stderr.splitlines()[-2:]
    assert error == (
        f"error: sending {ISSUE} paused: the mail server 127.0.0.1 said: 550 relaying denied"
    )
    assert hint.startswith("hint: the refusal is about digest's side (relaying, sender, login)")
    assert hint.endswith(
        "0 sent, 5 left, no address blamed for this: run `digest send` again later, or once"
        " that is fixed (nothing is sent twice)"
    )


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """The first Ctrl-C waits for the replies in flight (here 3 s each); the second does
    not: those few messages are sent again by the next run, with the same Message-ID."""
    config, emails = prepare(tmp_path, 40, "delivery:\n  batch: 10\n")
    smtp_server.script.slow_after, smtp_server.script.data_delay = 8, 3.0
    first = subprocess.Popen(
        command(config, "send", "--issue", ISSUE), env=environment(smtp_server.url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        smtp_server.wait_for(8, timeout=60)
        time.sleep(0.5)  # the next ones are in flight, the server slow to answer them
        first.send_signal(signal.SIGINT)
        time.sleep(0.5)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=2)  # without waiting for the 3 s replies
    finally:
        first.kill()
    assert first.returncode == 130, err
    assert "SIGINT reçu de nouveau : arrêt immédiat" in err and "Traceback" not in err
    smtp_server.script.data_delay = 0
    again = digest(config, "send", smtp=smtp_server.url)
    assert again.returncode == 0, again.stderr
    received = by_recipient(smtp_server)
    assert set(received) == set(emails), "nobody is skipped"
    twice = {a: ids for a, ids in received.items() if len(ids) > 1}
    assert len(twice) <= 4 and all(ids[0] == ids[1] for ids in twice.values()), twice
