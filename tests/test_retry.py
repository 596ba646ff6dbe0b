"""Retrying the failed ones (`digest retry`, delivery/retry.py) against a real aiosmtpd relay
and a real SQLite store: only the rows given up after temporary refusals go out again, each
with its own Message-ID, and `digest run` (or `digest send --issue`) sends them; `digest run`
resumes any issue still being sent; the archive publishes an issue once it is sending."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from digest.config import Config
from digest.delivery.deliver import DeliveryReport, send_issue
from digest.delivery.retry import retry_failed
from digest.delivery.smtp import parse_smtp_url
from digest.errors import UsageError
from digest.store import Store
from digest.store.schema import MIGRATIONS
from digest.subscribers import pause, unsubscribe
from tests.deliver_support import ISSUE, NOW, add_subscribers, make_config, store_issue
from tests.smtp_server import SmtpServer
from tests.store_support import store_at_version
from tests.test_deliver_cli import digest
from tests.web_support import KEYS, Clock, running_site

# Temporary refusals are given up after an hour; a run never waits for a retry.
GIVE_UP = "delivery:\n  retry_base: 60\n  retry_wait: 0\n  retry_hours: 1\n"
BUSY = "451 4.3.0 Try again later"
NEXT_WEEK = "2023-W20"
NEXT_DUE = "2023-05-22T09:30:00+02:00"  # Monday after 2023-W20, past the 9:00 slot


@dataclass(frozen=True)
class Failed:
    """An issue sent to seven readers: two got it, and each way of failing happened once."""

    config: Config
    emails: list[str]
    retried: list[str]  # given up on and still subscribed: these are retried
    left: str  # given up on too, then unsubscribed: not retried
    message_ids: dict[str, str]  # each given-up reader's Message-ID


def send(config: Config, store: Store, smtp: SmtpServer, clock: Clock) -> DeliveryReport:
    return send_issue(config, store, ISSUE, clock, smtp=parse_smtp_url(smtp.url), keys=KEYS)


def failed_issue(tmp_path: Path, smtp: SmtpServer) -> Failed:
    """Readers 0, 1 and 4 refused for now until the deadline passed (given up), 2 bounced
    (5.1.1), 3 refused for good (5xx), 5 and 6 got it; then reader 4 unsubscribed."""
    config = make_config(tmp_path, GIVE_UP)
    with Store(config.store) as store:
        emails = add_subscribers(store, 7)
        store_issue(store)
        for i in (0, 1, 4):
            smtp.script.rcpt[emails[i]] = BUSY
        smtp.script.rcpt[emails[2]] = "550 5.1.1 No such user"
        smtp.script.rcpt[emails[3]] = "552 5.2.2 Mailbox full"
        clock = Clock(NOW)
        first = send(config, store, smtp, clock)
        assert (first.sent, first.deferred, first.failed, first.bounced) == (2, 3, 2, 1)
        clock.advance(minutes=59)  # due again; the next retry would pass the deadline
        last = send(config, store, smtp, clock)
        assert (last.sent, last.deferred, last.failed, last.done) == (2, 0, 5, True)
        ids = {s.email: s.id for s in store.subscribers()}
        message_ids = {}
        for i in (0, 1, 4):
            found = store.outbox_message_id(ISSUE, ids[emails[i]])
            assert found is not None
            message_ids[emails[i]] = found
        unsubscribe(store, ids[emails[4]], now=clock(), source="test", ip=None)
        assert _status(store) == "sent"
    smtp.script.rcpt.clear()  # the relay is fine again
    return Failed(config, emails, [emails[0], emails[1]], emails[4], message_ids)


def _status(store: Store, issue: str = ISSUE) -> str:
    stored = store.issue(issue)
    assert stored is not None
    return stored.status


def _given_up(store: Store) -> list[str]:
    return sorted(p.email for p in store.deliveries(ISSUE, "gave_up"))


def _received(smtp: SmtpServer) -> Counter[tuple[str, str]]:
    """(issue, recipient) of every message the relay accepted, by Message-ID's issue."""
    return Counter(
        (str(m.message["Message-ID"])[1:9], r) for m in smtp.messages for r in m.rcpt_tos
    )


def test_both_ways_of_giving_up_mark_the_row_and_nothing_else_does(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A retry that would pass the deadline, and a deferred row found past it: both mark
    `gave_up`; a bounce, a 5xx and a reader who left do not."""
    failed = failed_issue(tmp_path, smtp_server)
    with Store(failed.config.store) as store:
        assert _given_up(store) == sorted([*failed.retried, failed.left])
        rows = {p.email: p for p in store.deliveries(ISSUE)}
        assert rows[failed.emails[0]].last_error.startswith("gave up after 2 attempts: 451")
        assert not rows[failed.emails[2]].gave_up and rows[failed.emails[2]].bounced
        assert not rows[failed.emails[3]].gave_up
    # The other way: a deferred row that a later run finds past the deadline.
    (tmp_path / "other").mkdir()
    config = make_config(tmp_path / "other", GIVE_UP)
    with Store(config.store) as store:
        emails = add_subscribers(store, 2)
        store_issue(store)
        smtp_server.script.rcpt[emails[0]] = BUSY
        clock = Clock(NOW)
        assert send(config, store, smtp_server, clock).deferred == 1
        clock.advance(hours=2)
        assert send(config, store, smtp_server, clock).failed == 1
        (row,) = store.deliveries(ISSUE, "failed")
        assert row.gave_up and row.last_error.startswith("gave up after the retry deadline")


def test_digest_retry_reopens_exactly_the_given_up_and_digest_run_sends_them_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    failed = failed_issue(tmp_path, smtp_server)
    config = failed.config.path
    with Store(failed.config.store) as store:
        store_issue(store, "approved", issue_id=NEXT_WEEK)  # the week cron is due to send
        attempts = {p.email: p.attempts for p in store.deliveries(ISSUE)}
    before = _received(smtp_server)
    assert sum(before.values()) == 2

    retried = digest(config, "retry", ISSUE)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == (
        f"{ISSUE} : 2 adresses remises en file ; le prochain `digest run`"
        f" (ou `digest send --issue {ISSUE}`) les envoie\n"
    )
    with Store(failed.config.store) as store:
        assert _status(store) == "sending"
        waiting = sorted(p.email for p in store.deliveries(ISSUE, "waiting"))
        assert waiting == failed.retried and _given_up(store) == [failed.left]
    assert digest(config, "retry", ISSUE).stdout.startswith(f"{ISSUE} : rien à relancer")

    done = digest(config, "run", "--as-of", NEXT_DUE, smtp=smtp_server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"{NEXT_WEEK} : envoi",
        f"{ISSUE} : reprise de l'envoi commencé plus tôt (adresses relancées ou différées)",
        f"{NEXT_WEEK} : 5 envoyés, 0 différé, 0 en échec (dont 0 rejeté), 0 pas encore tenté"
        " — 5 en tout",
        f"{ISSUE} : 4 envoyés, 0 différé, 3 en échec (dont 1 rejeté), 0 pas encore tenté"
        " — 7 en tout",
    ]
    after = _received(smtp_server) - before
    # This week's issue to everyone still subscribed; last week's to the two retried only.
    expected = [(NEXT_WEEK, e) for e in failed.emails if e not in failed.emails[2:5:2]]
    assert after == Counter([*expected, *((ISSUE, e) for e in failed.retried)])
    assert max(_received(smtp_server).values()) == 1  # nobody got an issue twice
    for message in smtp_server.messages:
        (rcpt,) = message.rcpt_tos
        if message.message["Message-ID"].startswith(f"<{ISSUE}.") and rcpt in failed.retried:
            assert message.message["Message-ID"] == failed.message_ids[rcpt]
    with Store(failed.config.store) as store:
        assert _status(store) == "sent"
        rows = {p.email: p for p in store.deliveries(ISSUE)}
        for email in failed.retried:
            assert rows[email].status == "sent" and rows[email].attempts == attempts[email] + 1

    again = digest(config, "retry", ISSUE)
    assert again.returncode == 0 and "rien à relancer" in again.stdout
    quiet = digest(config, "run", "--as-of", NEXT_DUE, smtp=smtp_server.url)
    assert quiet.returncode == 0 and "reprise" not in quiet.stdout
    assert len(smtp_server.messages) == 9


def test_digest_send_issue_sends_a_reopened_issue(tmp_path: Path, smtp_server: SmtpServer) -> None:
    failed = failed_issue(tmp_path, smtp_server)
    with Store(failed.config.store) as store:
        assert retry_failed(store, ISSUE, datetime.now(UTC)).reopened == 2
    sent = digest(failed.config.path, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert sent.returncode == 0, sent.stderr
    assert f"{ISSUE} : 4 envoyés, 0 différé, 3 en échec" in sent.stdout
    resent = smtp_server.messages[2:]
    assert sorted(r for m in resent for r in m.rcpt_tos) == failed.retried
    assert {m.message["Message-ID"] for m in resent} == {
        failed.message_ids[e] for e in failed.retried
    }


def test_what_cannot_be_retried_is_said_clearly(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = make_config(tmp_path)
    with Store(config.store) as store:
        add_subscribers(store, 2)
        store_issue(store, "approved")
        with pytest.raises(UsageError) as unknown:
            retry_failed(store, "2023-W30", NOW)
        assert unknown.value.exit_code == 2 and unknown.value.hint
        send(config, store, smtp_server, Clock(NOW))
        assert retry_failed(store, ISSUE, NOW).reopened == 0  # sent to all: nothing to do
        assert _status(store) == "sent"
    for status in ("built", "approved", "skipped"):
        with Store(config.store) as store:
            store_issue(store, status, issue_id="2023-W21")
        refused = digest(config.path, "retry", "2023-W21")
        assert refused.returncode == 2, refused.stdout
        assert "2023-W21 n'est jamais partie" in refused.stderr
        assert "digest send --issue 2023-W21" in refused.stderr
        assert "Traceback" not in refused.stderr
    unknown_cli = digest(config.path, "retry", "2023-W30")
    assert unknown_cli.returncode == 2 and "aucune lettre 2023-W30" in unknown_cli.stderr


def test_a_reader_who_paused_since_is_not_retried(tmp_path: Path, smtp_server: SmtpServer) -> None:
    failed = failed_issue(tmp_path, smtp_server)
    now = datetime.now(UTC)
    with Store(failed.config.store) as store:
        paused = store.subscriber_by_email(failed.retried[0])
        assert paused is not None
        assert pause(store, paused.id, 4, now=now, source="test", ip=None) is not None
        assert store.retryable(ISSUE, now) == 1
        assert retry_failed(store, ISSUE, now).reopened == 1
        assert _given_up(store) == sorted([failed.retried[0], failed.left])


def test_the_migration_marks_rows_given_up_before_the_column(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    with store_at_version(path, 9) as db:
        db.execute(
            "INSERT INTO issues (id, period_start, period_end, built_at, data, html, text, web,"
            " status) VALUES ('2023-W19', ?, ?, ?, '{}', '', '', '', 'sent')",
            ("2023-05-08T00:00:00+02:00", "2023-05-15T00:00:00+02:00", NOW.isoformat()),
        )
        rows = [
            (1, "failed", "gave up after 5 attempts: 451 4.3.0 Try again later", 0),
            (2, "failed", "gave up after the retry deadline: 450 4.2.0 Busy", 0),
            (3, "failed", "gave up after 2 attempts: 451 (then a DSN)", 1),  # bounced
            (4, "failed", "552 5.2.2 Mailbox full", 0),
            (5, "failed", "not sent: the subscriber left before delivery", 0),
            (6, "sent", None, 0),
            (7, "deferred", "gave up after nothing: a server's own words", 0),
        ]
        for sid, status, error, bounced in rows:
            db.execute(
                "INSERT INTO subscribers (id, email, status, created_at, updated_at)"
                " VALUES (?, ?, 'confirmed', '', '')",
                (sid, f"r{sid}@example.org"),
            )
            db.execute(
                "INSERT INTO outbox (issue_id, subscriber_id, status, message_id, last_error,"
                " bounced, updated_at) VALUES ('2023-W19', ?, ?, ?, ?, ?, 'now')",
                (sid, status, f"<m{sid}@x>", error, bounced),
            )
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        marked = store.db.execute("SELECT subscriber_id FROM outbox WHERE gave_up = 1")
        assert sorted(r[0] for r in marked) == [1, 2]
        assert retry_failed(store, ISSUE, NOW).reopened == 2
        assert _status(store) == "sending"


def test_an_issue_being_sent_is_published_and_one_not_yet_sent_is_not(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A reader who got it clicks "view in browser" while deferred rows keep it 'sending'."""
    with running_site(tmp_path, smtp_server.url) as site:
        with Store(site.config.store) as store:
            for status, issue in (("sending", ISSUE), ("built", "2023-W20"),
                                  ("approved", "2023-W21")):  # fmt: skip
                store_issue(store, status, issue_id=issue)
        with httpx.Client(base_url=site.url) as client:
            assert client.get(f"/archives/{ISSUE}/").status_code == 200
            assert client.get("/archives/2023-W20/").status_code == 404
            assert client.get("/archives/2023-W21/").status_code == 404
            index = client.get("/archives/").text
            assert ISSUE in index and "2023-W20" not in index and "2023-W21" not in index
            assert ISSUE in client.get("/archives/feed.xml").text
            assert f"/archives/{ISSUE}/" in client.get("/").text
