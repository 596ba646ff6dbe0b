"""Delivery against a real aiosmtpd server and a real SQLite store: replies, retries, pauses,
dropped connections, the frozen audience, and the one-click link against the real site.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digest.config import Config
from digest.delivery.deliver import (
    DeliveryPaused,
    DeliveryReport,
    backoff,
    item_keys,
    report,
    send_issue,
    start,
)
from digest.delivery.pool import RateLimiter
from digest.delivery.replies import SAME_REFUSALS, Result, Stage, Streak, classify
from digest.delivery.smtp import parse_smtp_url
from digest.errors import DeliveryError, StoreError
from digest.store import Store
from digest.store.outbox import OutboxRow
from digest.subscribers import unsubscribe
from digest.tokens import UNSUBSCRIBE, read_token
from tests.deliver_support import (
    ISSUE,
    NOW,
    add_subscribers,
    bodies,
    make_config,
    parse,
    store_issue,
    unsubscribe_links,
)
from tests.smtp_server import SmtpServer
from tests.web_support import KEYS, Clock, running_site


def send(config: Config, store: Store, server: SmtpServer, clock: Clock) -> DeliveryReport:
    return send_issue(config, store, ISSUE, clock, smtp=parse_smtp_url(server.url), keys=KEYS)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Config, Store, list[str]]:
    config = make_config(tmp_path)
    store = Store(config.store)
    emails = add_subscribers(store, 30)
    store_issue(store)
    return config, store, emails


def recipients(server: SmtpServer) -> Counter[str]:
    return Counter(r for m in server.messages for r in m.rcpt_tos)


def test_every_subscriber_gets_one_message_with_their_own_links(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, emails = setup
    result = send(config, store, smtp_server, Clock(NOW))
    assert result == report(store, ISSUE)
    assert (result.sent, result.failed, result.deferred, result.pending) == (30, 0, 0, 0)
    assert recipients(smtp_server) == Counter(emails)
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sent"
    ids = {s.email: s.id for s in store.subscribers()}
    message_ids = set()
    for received in smtp_server.messages:
        message = parse(received.data)
        (address,) = received.rcpt_tos
        assert message["To"] == address
        text, html = bodies(message)
        links = unsubscribe_links(text) | unsubscribe_links(html)
        assert len(links) == 1, links
        token = links.pop().rsplit("/", 1)[1]
        assert read_token(KEYS, token, UNSUBSCRIBE) == ids[address]
        assert token in message["List-Unsubscribe"]
        message_ids.add(message["Message-ID"])
        assert message["Message-ID"].startswith(f"<{ISSUE}.{ids[address]}.")
    assert len(message_ids) == 30
    # The issue's items now count as sent: the next build leaves them out.
    keys = item_keys(issue.data)
    assert len(keys) >= 10 and store.sent_keys(keys) == set(keys)
    # Sending again does nothing: the issue is sent.
    again = send(config, store, smtp_server, Clock(NOW))
    assert again.sent == 30 and len(smtp_server.messages) == 30


def test_550_fails_and_bounces_the_address(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, emails = setup
    smtp_server.script.rcpt[emails[3]] = "550 5.1.1 No such user"
    # About that one mailbox but not a dead address: failed, not suppressed. (A 5.6.x
    # "message rejected" is about the message, not the recipient: it pauses the run.)
    smtp_server.script.rcpt[emails[4]] = "552 5.2.2 Mailbox full"
    result = send(config, store, smtp_server, Clock(NOW))
    assert (result.sent, result.failed, result.bounced) == (28, 2, 1)
    assert result.done
    gone = store.subscriber_by_email(emails[3])
    assert gone is not None and gone.status == "bounced"
    assert store.consent_log(gone.id)[-1].event == "bounce"
    kept = store.subscriber_by_email(emails[4])
    assert kept is not None and kept.status == "confirmed"
    problems = {p.email: p for p in store.problems(ISSUE)}
    assert problems[emails[3]].bounced and "5.1.1" in problems[emails[3]].last_error
    assert not problems[emails[4]].bounced and problems[emails[4]].status == "failed"


def test_451_is_deferred_then_delivered_by_a_later_run(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path, "delivery:\n  retry_base: 600\n  retry_wait: 0\n")
    store = Store(config.store)
    emails = add_subscribers(store, 10)
    store_issue(store)
    smtp_server.script.rcpt[emails[2]] = "451 4.3.0 Try again later"
    clock = Clock(NOW)
    first = send(config, store, smtp_server, clock)
    assert (first.sent, first.deferred, first.failed, first.done) == (9, 1, 0, False)
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sending"
    # Not due yet: a run now sends nothing.
    assert send(config, store, smtp_server, clock).deferred == 1
    del smtp_server.script.rcpt[emails[2]]
    clock.advance(hours=1)
    last = send(config, store, smtp_server, clock)
    assert (last.sent, last.deferred, last.done) == (10, 0, True)
    assert recipients(smtp_server) == Counter(emails)
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sent"


def test_451_is_retried_within_the_run_when_due_soon(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, emails = setup  # retry_base 0.05 s, retry_wait 5 s
    smtp_server.script.rcpt[emails[5]] = "452 4.2.2 Mailbox full"

    def clock() -> datetime:
        if store.next_retry(ISSUE) is not None:  # deferred once: the server recovers
            smtp_server.script.rcpt.clear()
        return datetime.now(UTC)

    result = send_issue(
        config, store, ISSUE, clock, smtp=parse_smtp_url(smtp_server.url), keys=KEYS
    )
    assert result.sent == 30 and result.done
    assert next(store.problems(ISSUE), None) is None
    assert recipients(smtp_server) == Counter(emails)


def test_a_deferral_past_the_deadline_fails(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = make_config(
        tmp_path, "delivery:\n  retry_base: 60\n  retry_wait: 0\n  retry_hours: 1\n"
    )
    store = Store(config.store)
    emails = add_subscribers(store, 3)
    store_issue(store)
    smtp_server.script.rcpt[emails[0]] = "450 4.2.0 Mailbox busy"
    clock = Clock(NOW)
    assert send(config, store, smtp_server, clock).deferred == 1
    clock.advance(hours=2)
    last = send(config, store, smtp_server, clock)
    assert (last.sent, last.deferred, last.failed, last.bounced) == (2, 0, 1, 0)
    problem = next(store.problems(ISSUE))
    assert problem.last_error.startswith("gave up") and "450 4.2.0" in problem.last_error
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sent"


@pytest.mark.parametrize("reply", ["421 4.7.0 Too many messages", "550 5.7.1 Rate limited"])
def test_a_policy_reply_pauses_and_a_later_run_finishes(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer, reply: str
) -> None:
    config, store, emails = setup
    smtp_server.script.rcpt[emails[12]] = reply
    with pytest.raises(DeliveryPaused) as paused:
        send(config, store, smtp_server, Clock(NOW))
    stopped = paused.value.report
    assert reply.split()[1] in (stopped.paused or "") and paused.value.exit_code == 1
    assert stopped.failed == 0 and stopped.sent < 30
    assert stopped.pending + stopped.deferred == 30 - stopped.sent
    del smtp_server.script.rcpt[emails[12]]
    last = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert (last.sent, last.failed, last.done) == (30, 0, True)
    assert recipients(smtp_server) == Counter(emails)


def test_a_recipient_refused_by_policy_twice_does_not_stall_the_list(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    # One address the server refuses by policy, for good: the first time it pauses the run
    # (it could be the server refusing everyone); tried again, it is that address's
    # refusal and waits with back-off while everyone else gets the issue.
    config, store, emails = setup
    smtp_server.script.rcpt[emails[0]] = "554 5.7.1 Recipient address rejected by policy"
    with pytest.raises(DeliveryPaused):
        send(config, store, smtp_server, Clock(NOW))
    later = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert (later.sent, later.deferred, later.failed) == (29, 1, 0)
    assert recipients(smtp_server) == Counter(emails[1:])
    problem = next(store.problems(ISSUE))
    assert (problem.email, problem.status) == (emails[0], "deferred")
    assert "5.7.1" in problem.last_error


@pytest.mark.usefixtures("english_staff")
def test_a_refused_sender_pauses_without_failing_anyone(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, _ = setup
    smtp_server.script.mail = "553 5.7.1 Sender not allowed"
    with pytest.raises(DeliveryPaused) as paused:
        send(config, store, smtp_server, Clock(NOW))
    assert "refused the sender" in (paused.value.report.paused or "")
    assert paused.value.report.failed == 0 and paused.value.report.sent == 0


def test_dropped_connections_reconnect_and_lose_no_one(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    # One connection: the DATA commands are numbered in sending order, so no retry can land
    # on the next scripted drop (with several, one message could be dropped twice).
    config = make_config(tmp_path, "delivery:\n  retry_wait: 0\n  batch: 20\n  connections: 1\n")
    store = Store(config.store)
    emails = add_subscribers(store, 30)
    store_issue(store)
    smtp_server.script.drop_data_at = {4, 11, 17}
    smtp_server.script.drop_rcpt.add(emails[20])  # hangs up every time: deferred, not lost
    result = send(config, store, smtp_server, Clock(NOW))
    assert result.sent == 29 and result.deferred == 1 and result.failed == 0
    assert recipients(smtp_server) == Counter(e for e in emails if e != emails[20])
    assert smtp_server.sessions >= 1 + 3 + 2  # then one per drop, two for the hostile RCPT
    problem = next(store.problems(ISSUE))
    assert problem.email == emails[20] and "connection lost" in problem.last_error


def test_the_audience_is_frozen_when_sending_starts(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, emails = setup
    smtp_server.script.rcpt[emails[0]] = "421 4.3.2 Shutting down"
    with pytest.raises(DeliveryPaused):
        send(config, store, smtp_server, Clock(NOW))
    smtp_server.script.rcpt.clear()
    late = add_subscribers(store, 1, start=100)[0]
    left = store.subscriber_by_email(emails[1])
    assert left is not None
    unsubscribe(store, left.id, now=NOW, source="web", ip=None)
    result = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert result.audience == 30 and result.done
    got = recipients(smtp_server)
    assert late not in got and got[emails[1]] <= 1
    assert all(got[e] == 1 for e in emails if e != emails[1])


@pytest.mark.usefixtures("english_staff")
def test_an_unreachable_server_is_a_clear_error(
    setup: tuple[Config, Store, list[str]],
) -> None:
    config, store, _ = setup
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError) as error:
        send_issue(
            config, store, ISSUE, Clock(NOW),
            smtp=parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none"), keys=KEYS,
        )  # fmt: skip
    assert "cannot talk to the mail server" in error.value.message
    assert report(store, ISSUE).pending == 30
    assert store.outbox_counts(ISSUE)["sending"] == 0, "the claimed batch is released"


def test_nothing_due_needs_no_mail_server(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store = Store(config.store)
    store_issue(store)  # and no subscriber at all
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nowhere = parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none")
    result = send_issue(config, store, ISSUE, Clock(NOW), smtp=nowhere, keys=KEYS)
    assert (result.audience, result.done) == (0, True)
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sent"


def test_the_one_click_header_unsubscribes_on_the_real_site(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with running_site(tmp_path, smtp_server.url) as site:
        store = Store(site.config.store)
        emails = add_subscribers(store, 3)
        store_issue(store)
        send_issue(
            site.config, store, ISSUE, Clock(NOW), smtp=parse_smtp_url(smtp_server.url), keys=KEYS
        )
        received = next(m for m in smtp_server.messages if m.rcpt_tos == (emails[1],))
        header = parse(received.data)["List-Unsubscribe"]
        url = header.split(",")[0].strip().strip("<>")
        assert url.startswith(site.url + "/unsubscribe/")
        answer = httpx.post(url, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        statuses = {s.email: s.status for s in store.subscribers()}
        assert statuses == {
            emails[0]: "confirmed",
            emails[1]: "unsubscribed",
            emails[2]: "confirmed",
        }


@pytest.mark.parametrize(
    ("code", "reply", "kind"),
    [
        (550, "5.1.1 No such user", "bounce"),
        (550, "Mailbox unavailable", "bounce"),
        (550, "Requested action not taken: mailbox unavailable", "bounce"),
        (550, "<>: Recipient address rejected: User unknown in local recipient table", "bounce"),
        (551, "User not local; please try <x@example.net>", "bounce"),
        (552, "5.2.2 Mailbox full", "fail"),
        (554, "5.7.1 Spam rejected", "pause"),
        (451, "4.7.1 Rate limit exceeded", "pause"),
        (451, "4.7.1 Greylisted, try again", "defer"),
        (451, "4.7.1 Greylisted sender, try again later", "defer"),
        (450, "4.2.0 Busy", "defer"),
        (421, "Too many connections", "pause"),
        # Issue 10: not about one recipient, so nobody is blamed for it.
        (550, "relaying denied", "pause"),
        (550, "Sender verify failed", "pause"),
        (550, "5.7.1 Relaying denied", "pause"),
        (554, "5.7.1 <>: Relay access denied", "pause"),
        (530, "5.7.0 Authentication required", "pause"),
        (550, "Authentication required", "pause"),
        (553, "5.1.8 <lettre@example.org>: Sender address rejected: Domain not found", "pause"),
        (550, "5.1.0 <lettre@example.org>: Sender address rejected: User unknown", "pause"),
        (
            554,
            "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
            "pause",
        ),
        (451, "Temporary sender verification failure", "pause"),
        # About this recipient, but not proof that the mailbox is gone: failed, kept.
        (550, "Administrative prohibition", "fail"),
        (553, "Requested action not taken: mailbox name not allowed", "fail"),
        (550, "5.2.1 Mailbox disabled, not accepting messages", "fail"),
    ],
)
def test_replies_are_classified(code: int, reply: str, kind: str) -> None:
    assert classify(code, reply) == kind


@pytest.mark.parametrize(
    ("code", "reply", "stage", "kind"),
    [
        (553, "5.7.1 Sender not allowed", "mail", "halt"),
        (451, "4.3.0 Temporary failure", "mail", "halt"),
        (550, "5.1.1 No such user", "mail", "halt"),
        (421, "4.7.0 Too many connections", "mail", "pause"),
        (552, "5.3.4 Message size exceeds fixed limit", "data", "halt"),
        (552, "Message size exceeds maximum permitted", "data", "halt"),
        (554, "5.7.1 Message content refused", "data", "halt"),
        (554, "5.6.0 Message rejected", "data", "halt"),
        (554, "Transaction failed", "data", "halt"),
        (550, "5.1.1 No such user", "data", "bounce"),
        (552, "5.2.2 Mailbox full", "data", "fail"),
        (452, "4.3.1 Insufficient system storage", "data", "defer"),
        (552, "5.3.4 Message too big for system", "rcpt", "pause"),
    ],
)
def test_replies_are_classified_by_the_command_they_answer(
    code: int, reply: str, stage: Stage, kind: str
) -> None:
    """MAIL FROM is about the sender, DATA about the message: neither blames an address,
    unless the reply names the mailbox itself."""
    assert classify(code, reply, stage) == kind


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    first = [backoff(1, 60, 3600, rng) for _ in range(50)]
    third = [backoff(3, 60, 3600, rng) for _ in range(50)]
    assert all(30 <= d <= 60 for d in first) and all(120 <= d <= 240 for d in third)
    assert len(set(first)) == 50  # jitter: retries do not come back in step
    assert all(1800 <= backoff(20, 60, 3600, rng) <= 3600 for _ in range(20))


def test_rate_limiter_spaces_and_caps_messages() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rate=10, per_minute=25, clock=lambda: now[0], sleep=sleep)
    for _ in range(30):
        limiter.acquire()
    assert slept[:3] == pytest.approx([0.1, 0.1, 0.1])
    # The 26th message waits for the first of the minute to leave the window.
    assert now[0] == pytest.approx(60.0 + 4 * 0.1)


def test_an_address_that_cannot_make_a_safe_message_fails_alone(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, _ = setup
    with store.transaction() as db:  # written behind the library's back, as a bad import might
        db.execute(
            "INSERT INTO subscribers (email, status, created_at, updated_at)"
            " VALUES ('bad address@example.org', 'confirmed', ?, ?)",
            (NOW.isoformat(), NOW.isoformat()),
        )
    store.set_issue_status(ISSUE, "approved")
    result = send(config, store, smtp_server, Clock(NOW))
    assert (result.sent, result.failed) == (30, 1)
    problem = next(store.problems(ISSUE))
    assert problem.email == "bad address@example.org"
    assert "unsafe header value" in problem.last_error


def test_sends_with_auth_from_the_url(tmp_path: Path, smtp_server_auth: SmtpServer) -> None:
    config = make_config(tmp_path)
    store = Store(config.store)
    emails = add_subscribers(store, 5)
    store_issue(store)
    url = f"smtp://lettre:s3cret%20pass@127.0.0.1:{smtp_server_auth.port}?tls=none"
    result = send_issue(config, store, ISSUE, Clock(NOW), smtp=parse_smtp_url(url), keys=KEYS)
    assert result.sent == 5 and recipients(smtp_server_auth) == Counter(emails)
    assert smtp_server_auth.recorder.logins == ["lettre"] * 4  # one login per connection


def test_a_quota_counts_what_earlier_runs_sent(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, _ = setup
    send(config, store, smtp_server, Clock(NOW))
    assert len(store.sent_since(NOW - timedelta(minutes=1))) == 30  # the run's clock
    assert store.sent_since(NOW + timedelta(seconds=1)) == []
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(per_minute=3, clock=lambda: now[0], sleep=sleep)
    limiter.seed([10.0, 20.0, 3000.0])  # the last one is outside the minute
    limiter.acquire()
    assert slept == []
    limiter.acquire()  # the message sent 20 s ago must leave the window first
    assert now[0] == pytest.approx(1040.0)


def test_a_used_up_hourly_quota_is_left_to_later_runs(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A run does not sit for an hour on the lock: it sends what the quota allows, leaves the
    rest pending for the next run (no error), and no one gets two messages."""
    config = make_config(tmp_path, "delivery:\n  per_hour: 12\n  retry_wait: 5\n  batch: 5\n")
    store = Store(config.store)
    emails = add_subscribers(store, 30)
    store_issue(store)
    clock = Clock(NOW)
    first = send(config, store, smtp_server, clock)
    assert (first.sent, first.pending, first.deferred, first.failed) == (12, 18, 0, 0)
    assert first.later is not None and "12 par heure" in first.later
    assert first.paused is None
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sending"
    clock.advance(minutes=30)  # the 12 are still in the hour's window
    assert send(config, store, smtp_server, clock).sent == 12
    clock.advance(minutes=31)
    assert send(config, store, smtp_server, clock).sent == 24
    clock.advance(minutes=61)
    last = send(config, store, smtp_server, clock)
    assert (last.sent, last.pending, last.later, last.done) == (30, 0, None, True)
    assert recipients(smtp_server) == Counter(emails)  # each address exactly once


def test_the_rate_limiter_refuses_a_wait_longer_than_allowed() -> None:
    now = [0.0]
    limiter = RateLimiter(per_hour=2, clock=lambda: now[0], sleep=lambda s: None, max_wait=60)
    assert limiter.acquire() and limiter.acquire()
    assert not limiter.acquire()  # the next slot is an hour away
    now[0] = 3600.0
    assert limiter.acquire()  # nothing was counted for the refused one


def test_a_whole_batch_that_left_does_not_end_the_run(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, emails = setup  # batch 20
    stored = store.issue(ISSUE)
    assert stored is not None
    start(config, store, stored, NOW)  # the audience is frozen, then 20 leave
    for address in emails[:20]:
        found = store.subscriber_by_email(address)
        assert found is not None
        unsubscribe(store, found.id, now=NOW, source="web", ip=None)
    result = send(config, store, smtp_server, Clock(NOW))
    assert (result.sent, result.failed, result.bounced, result.done) == (10, 20, 0, True)
    assert recipients(smtp_server) == Counter(emails[20:])
    assert {p.last_error for p in store.problems(ISSUE)} == {
        "not sent: the subscriber left before delivery"
    }


def test_the_envelope_sender_is_the_return_path(tmp_path: Path, smtp_server: SmtpServer) -> None:
    extra = 'delivery:\n  return_path: "Rebonds <bounces@example.org>"\n'
    config = make_config(tmp_path, extra)
    store = Store(config.store)
    add_subscribers(store, 2)
    store_issue(store)
    send(config, store, smtp_server, Clock(NOW))
    assert {m.mail_from for m in smtp_server.messages} == {"bounces@example.org"}
    assert parse(smtp_server.messages[0].data)["From"] == "Lettre du Cerdd <lettre@example.org>"


def statuses(store: Store) -> Counter[str]:
    return Counter(s.status for s in store.subscribers())


@pytest.mark.usefixtures("english_staff")
@pytest.mark.parametrize(
    "reply",
    [
        "550 relaying denied",  # Exim's usual words, no enhanced code
        "550 Sender verify failed",
        "554 5.7.1 <{address}>: Relay access denied",
        "530 5.7.0 Authentication required",
        # No word of it says "relay", but every address gets it: the relay's, not theirs.
        "550 Administrative prohibition",
        "550 5.1.1 <{address}>: Recipient address rejected: User unknown in local table",
    ],
)
def test_a_relay_that_refuses_everyone_pauses_and_blames_nobody(
    tmp_path: Path, smtp_server: SmtpServer, reply: str
) -> None:
    """Issue 10: one relay misconfiguration marked 1,000 of 1,000 subscribers bounced."""
    config = make_config(tmp_path, "delivery:\n  retry_wait: 0\n  batch: 100\n")
    store = Store(config.store)
    emails = add_subscribers(store, 1000)
    store_issue(store)
    for address in emails:
        smtp_server.script.rcpt[address] = reply.format(address=address)
    with pytest.raises(DeliveryPaused) as paused:
        send(config, store, smtp_server, Clock(NOW))
    stopped = paused.value.report
    assert (stopped.sent, stopped.failed, stopped.bounced) == (0, 0, 0)
    assert stopped.left == 1000 and paused.value.exit_code == 1
    assert statuses(store) == Counter({"confirmed": 1000}), "no subscriber changes status"
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sending"
    assert paused.value.hint and "no address blamed" in paused.value.hint
    # Fixed: the same issue, sent again, reaches everyone, once.
    smtp_server.script.rcpt.clear()
    last = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert (last.sent, last.failed, last.done) == (1000, 0, True)
    assert recipients(smtp_server) == Counter(emails)


@pytest.mark.usefixtures("english_staff")
def test_a_relay_that_starts_refusing_mid_list_blames_nobody(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    """The same 5xx for address after address is the relay's, even after it took some,
    and with several connections (an acceptance that comes back late, from a message
    started before the refusals, does not end their streak)."""
    config, store, emails = setup
    assert config.delivery.connections > 1
    smtp_server.script.rcpt_default, smtp_server.script.default_after = "554 Access denied", 8
    with pytest.raises(DeliveryPaused) as paused:
        send(config, store, smtp_server, Clock(NOW))
    stopped = paused.value.report
    assert stopped.sent >= 8 and (stopped.failed, stopped.bounced) == (0, 0)
    assert f"same refusal to {SAME_REFUSALS} addresses in a row" in (stopped.paused or "")
    assert statuses(store) == Counter({"confirmed": 30})
    smtp_server.script.rcpt_default = None
    last = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert (last.sent, last.failed, last.done) == (30, 0, True)
    assert recipients(smtp_server) == Counter(emails)


def refused(ticket: int, seen: int | None = None) -> Result:
    """A refusal of the message started as `ticket`, whose reply came back when the last
    message started was `seen` (by default: no other had started since)."""
    row = OutboxRow(ticket, f"r{ticket}@example.org", f"<{ticket}@x>", 0, None)
    came_back = ticket if seen is None else seen
    return Result(row, "fail", "554 Access denied", "rcpt", ticket, came_back)


def test_an_acceptance_overtaking_a_refusal_blames_nobody() -> None:
    """Message 10 was started before the refusal of message 9 came back, and reached the
    server first: its acceptance says nothing about 9 (the relay may have begun refusing
    in between), which stays in the streak; a refusal that came back before a message was
    started is released by that message's acceptance."""
    streak = Streak(limit=5)
    assert streak.refuse(refused(9, seen=10)) == []
    assert streak.accept(10) == [] and [r.ticket for r in streak.held] == [9]
    for ticket in (11, 12, 13, 14):
        streak.refuse(refused(ticket))
    assert streak.tripped and [r.ticket for r in streak.held] == [9, 11, 12, 13, 14]
    other = Streak(limit=5)
    other.refuse(refused(20, seen=21))
    assert [r.ticket for r in other.accept(22)] == [20]  # started after the refusal came


def test_a_late_acceptance_releases_only_refusals_started_before_it() -> None:
    """Replies from several connections come back out of order: an acceptance of a message
    started before the refusals says nothing about them, so their streak goes on."""
    streak = Streak(limit=5)
    for ticket in (3, 4, 6):
        assert streak.refuse(refused(ticket)) == []
    assert [r.ticket for r in streak.accept(5)] == [3, 4]  # started before the accepted one
    assert [r.ticket for r in streak.held] == [6]
    for ticket in (7, 8, 9):
        streak.refuse(refused(ticket))
    assert not streak.tripped
    assert [r.ticket for r in streak.accept(2)] == []  # an older message: the streak goes on
    streak.refuse(refused(10))
    assert streak.tripped and [r.ticket for r in streak.held] == [6, 7, 8, 9, 10]


def test_a_run_of_dead_addresses_pauses_one_run_then_bounces_them(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Six dead mailboxes in a row look like a relay refusing everyone: the run pauses
    (nobody blamed). The next run, once the relay has taken others, judges each on its own,
    so the list is not stalled behind them."""
    config = make_config(tmp_path, "delivery:\n  retry_wait: 0\n  batch: 20\n  connections: 1\n")
    store = Store(config.store)
    emails = add_subscribers(store, 30)
    store_issue(store)
    dead = emails[:6]
    for address in dead:
        smtp_server.script.rcpt[address] = f"550 5.1.1 <{address}>: User unknown"
    with pytest.raises(DeliveryPaused):
        send(config, store, smtp_server, Clock(NOW))
    assert statuses(store) == Counter({"confirmed": 30})
    last = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert (last.sent, last.failed, last.bounced, last.done) == (24, 6, 6, True)
    assert recipients(smtp_server) == Counter(emails[6:])
    assert statuses(store) == Counter({"confirmed": 24, "bounced": 6})


def test_dead_addresses_among_accepted_ones_bounce_at_once(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer
) -> None:
    config, store, emails = setup
    for address in emails[3:30:4]:  # one in four: never five in a row
        smtp_server.script.rcpt[address] = "550 5.1.1 No such user"
    result = send(config, store, smtp_server, Clock(NOW))
    assert (result.sent, result.bounced, result.done) == (23, 7, True)


@pytest.mark.usefixtures("english_staff")
@pytest.mark.parametrize(
    "reply", ["552 5.3.4 Message size exceeds fixed limit", "554 5.7.1 Message content refused"]
)
def test_a_message_refused_at_data_pauses_and_keeps_every_row_pending(
    setup: tuple[Config, Store, list[str]], smtp_server: SmtpServer, reply: str
) -> None:
    """Issue 10: a size or content refusal failed every recipient for good and marked the
    issue sent to nobody. It is the message's problem: pause, every row still pending."""
    config, store, emails = setup
    smtp_server.script.data = reply
    with pytest.raises(DeliveryPaused) as paused:
        send(config, store, smtp_server, Clock(NOW))
    stopped = paused.value.report
    assert (stopped.sent, stopped.deferred, stopped.failed, stopped.pending) == (0, 0, 0, 30)
    assert f"refused the message itself: {reply}" in (stopped.paused or "")
    hint = paused.value.hint or ""
    assert "whatever the address" in hint and " KB)" in hint
    assert statuses(store) == Counter({"confirmed": 30})
    issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "sending"
    # Sending it again before the relay is fixed pauses at the same place, blaming nobody.
    with pytest.raises(DeliveryPaused):
        send(config, store, smtp_server, Clock(NOW.replace(hour=8)))
    assert report(store, ISSUE).pending == 30
    smtp_server.script.data = None
    last = send(config, store, smtp_server, Clock(NOW.replace(hour=9)))
    assert (last.sent, last.failed, last.done) == (30, 0, True)
    assert recipients(smtp_server) == Counter(emails)


def stated_doubles(hint: str) -> int:
    """How many messages the hint says the next run sends again (0: "nobody is sent twice")."""
    found = re.search(r"(\d+) messages? the server accepted just then could not be", hint)
    return int(found[1]) if found else 0


@pytest.mark.usefixtures("english_staff")
def test_a_full_disk_stops_the_run_and_loses_no_one(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Issue 10: a full disk mid-send gave a traceback, and the resume sent a whole batch
    twice. SQLite's own limit on the store file's size (max_page_count, set on the run's
    connection once 100 messages went out) makes the next write that needs a page fail
    with SQLITE_FULL, as a full disk does."""
    config = make_config(tmp_path, "delivery:\n  retry_wait: 0\n  retry_base: 0.01\n  batch: 50\n")
    store = Store(config.store)
    emails = add_subscribers(store, 300)
    store_issue(store)
    # Every other address is deferred with a long reply: recording that needs room.
    busy = "451 4.3.0 " + "The mailbox server is busy, try again later. " * 8
    smtp_server.script.rcpt.update(dict.fromkeys(emails[1::2], busy))
    full: list[int] = []

    store.db.execute("CREATE TABLE ballast (b BLOB)")

    def fill_the_disk(done: int, total: int) -> None:
        if done >= 100 and not full:
            pages = store.db.execute("PRAGMA page_count").fetchone()[0]
            store.db.execute(f"PRAGMA max_page_count = {pages}")
            # Use up the free pages too, as a full disk leaves none: otherwise how much the
            # run could still write depended on how its commits happened to fall.
            with contextlib.suppress(sqlite3.OperationalError, StoreError):
                for _ in range(pages):
                    store.db.execute("INSERT INTO ballast VALUES (zeroblob(3000))")
            full.append(done)

    with pytest.raises(StoreError) as stopped:
        send_issue(
            config, store, ISSUE, Clock(NOW), smtp=parse_smtp_url(smtp_server.url), keys=KEYS,
            on_progress=fill_the_disk,
        )  # fmt: skip
    assert full, "the disk filled up mid-send"
    assert stopped.value.exit_code == 1
    assert f"the disk holding the store {config.store} is full" in stopped.value.message
    assert "database or disk is full" in stopped.value.message
    hint = stopped.value.hint or ""
    assert hint.startswith(f"free some space where the store is ({config.store})")
    sent_before = len(smtp_server.messages)
    assert sent_before < 150, "nothing more is sent once the store cannot record it"
    store.close()
    smtp_server.script.rcpt.clear()
    with Store(config.store) as again:  # space freed: a new connection, no limit
        last = send(config, again, smtp_server, Clock(NOW.replace(hour=9)))
        assert (last.sent, last.failed, last.done) == (300, 0, True)
        assert statuses(again) == Counter({"confirmed": 300})
    got = recipients(smtp_server)
    assert set(got) == set(emails), "nobody is skipped"
    doubled = sum(count - 1 for count in got.values())
    assert doubled == stated_doubles(hint), "the hint says who goes twice"
    assert doubled == 0, "the accepted ones were recorded before stopping"
