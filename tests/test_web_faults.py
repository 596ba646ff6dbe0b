"""Issue 10, "faults that must never cost a subscriber": the site's faults, each reproduced
against the real app under uvicorn on 127.0.0.1 (and a real aiosmtpd, a real second SQLite
connection, a real `digest serve` process where the fault needs one)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store, StoredIssue
from digest.tokens import CONFIRM, PREFERENCES, UNSUBSCRIBE, make_token
from digest.web import create_app
from digest.web.mailer import Mailer
from tests.smtp_server import SmtpServer
from tests.test_web import _wait_until_up, server_errors, subscribe
from tests.web_support import (
    KEYS,
    Clock,
    RunningSite,
    bound_socket,
    running_site,
    write_config,
)


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url) as running:
        yield running


def _rows(store_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every subscriber, consent-log, staff session and audit-log row, as a plain second
    connection reads them."""
    with closing(sqlite3.connect(store_path)) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in (
                ("subscribers", "id"),
                ("consent_log", "id"),
                ("staff_sessions", "token_hash"),
                ("audit_log", "id"),
            )
        }


def _add(site: RunningSite, email: str, status: str) -> int:
    with Store(site.config.store) as store:
        new_id = store.create_subscriber(
            email, "", status, "fr", site.clock(), event="add", source="cli"
        )
    assert new_id is not None
    return new_id


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """A bounded wait for something another thread does (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.01)


# -- 1. HEAD never changes state --------------------------------------------------------


def test_head_changes_nothing_on_any_route_that_changes_state_on_post(
    site: RunningSite, smtp_server: SmtpServer
) -> None:
    """Mail scanners prefetch links with HEAD: on every route that changes state on POST,
    HEAD answers as GET does, without a body, and the store and consent log stay as they
    were, whatever the HEAD carries (a one-click body, a CSRF cookie and field)."""
    pending = _add(site, "pending@example.org", "pending")
    confirmed = _add(site, "confirmed@example.org", "confirmed")
    confirm = f"/confirm/{make_token(KEYS, CONFIRM, pending, site.clock())}"
    leave = f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, confirmed)}"
    leave_pending = f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, pending)}"
    preferences = f"/preferences/{make_token(KEYS, PREFERENCES, confirmed, site.clock())}"
    pause = {"action": "pause", "weeks": "4"}
    one_click = {"List-Unsubscribe": "One-Click"}
    with httpx.Client(base_url=site.url) as client:
        form = {"email": "new@example.org", "website": ""}
        cases = {
            "/confirm/{token}": [(confirm, {}), (confirm, one_click)],
            "/unsubscribe/{token}": [(leave, {}), (leave, one_click), (leave_pending, one_click)],
            "/subscribe": [("/subscribe", form)],
            "/preferences/{token}": [
                (preferences, {"action": "unsubscribe"}),
                (preferences, pause),
            ],
            "/admin/login": [("/admin/login", {"email": "a@example.org", "password": "x" * 12})],
            "/admin/logout": [("/admin/logout", {"csrf": "x"})],
            "/admin/issues/{issue}/test": [
                ("/admin/issues/2026-W19/test", {"csrf": "x", "addresses": "a@example.org"})
            ],
            "/admin/issues/{issue}/approve": [("/admin/issues/2026-W19/approve", {"csrf": "x"})],
            "/admin/issues/{issue}/retry": [("/admin/issues/2026-W19/retry", {"csrf": "x"})],
            "/admin/subscribers/add": [("/admin/subscribers/add", form)],
            "/admin/subscribers/import": [("/admin/subscribers/import", {"csrf": "x"})],
            "/admin/subscribers/import/apply": [
                ("/admin/subscribers/import/apply", {"upload": "x" * 32})
            ],
            "/admin/subscribers/export": [("/admin/subscribers/export", {"csrf": "x"})],
            "/admin/subscribers/{id:int}/erase": [
                (f"/admin/subscribers/{confirmed}/erase", {"csrf": "x", "confirm": "yes"})
            ],
            "/admin/sources/test": [("/admin/sources/test", {"source": "Récits"})],
            **{
                f"/admin/issues/{{issue_id}}/{action}": [
                    (f"/admin/issues/2026-W19/{action}", {"csrf": "x", "action": "pin"})
                ]
                for action in ("items", "texts", "links", "rebuild")
            },
        }
        # Every route that changes state on POST is here: a new one must be added.
        app = create_app(site.config, keys=KEYS, smtp=parse_smtp_url(smtp_server.url))
        posted = {r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())}
        assert posted == set(cases)
        before = _rows(site.config.store)
        for path, data in (case for route in cases.values() for case in route):
            head = client.request("HEAD", path, data=data)
            assert _rows(site.config.store) == before, (path, data)
            get = client.get(path)
            assert head.status_code == get.status_code, path
            assert head.content == b"", path
            assert head.headers.get("content-type") == get.headers.get("content-type"), path
            assert head.headers["content-length"] == str(len(get.content)), path
            assert head.headers["x-frame-options"] == "DENY", path
        # The links were good: a POST does what the HEADs did not.
        assert "Inscription confirmée" in client.post(confirm).text
    with Store(site.config.store) as store:
        assert [e.event for e in store.consent_log(pending)] == ["add", "confirm"]
    assert smtp_server.messages == []


# -- 3. Security headers on every response, errors included ------------------------------

SECURITY = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _assert_secured(headers: httpx.Headers | dict[str, str], what: str) -> None:
    csp = headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
    for name, value in SECURITY.items():
        assert headers.get(name) == value, (what, name, headers.get(name))


def test_a_real_500_carries_the_security_headers_and_says_nothing_inside(
    site: RunningSite,
) -> None:
    """A store that another hand broke (its issues table gone) makes the home page fail for
    real: the 500 page still has the CSP, X-Frame-Options and no-store, shows the site's
    error wording and no traceback, and the operator finds the exception in the log."""
    with closing(sqlite3.connect(site.config.store, isolation_level=None)) as db:
        db.execute("ALTER TABLE issues RENAME TO issues_moved_away")
    with server_errors() as errors, httpx.Client(base_url=site.url) as client:
        broken = client.get("/")
        # uvicorn logs the exception once the page is sent: wait for it (bounded).
        _wait_for(lambda: bool(errors))
    assert broken.status_code == 500
    _assert_secured(broken.headers, "500")
    assert "Erreur" in broken.text and "Traceback" not in broken.text
    assert "issues" not in broken.text
    assert any("Exception in ASGI application" in r.getMessage() for r in errors)


def test_404_405_and_413_carry_the_security_headers(site: RunningSite) -> None:
    with httpx.Client(base_url=site.url) as client:
        answers = {
            "404": client.get("/nowhere"),
            "405": client.put("/confirm/c.1.2.3.4"),
            "413": client.post("/subscribe", content=b"x" * 20_000),
        }
    for status, answer in answers.items():
        assert str(answer.status_code) == status
        _assert_secured(answer.headers, status)


def test_the_answer_to_a_client_that_went_away_carries_the_headers(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The answer to a client that left mid-form is never read by anyone, but it goes through
    the same stack: driven here through the production app's ASGI interface directly, since
    over TCP there is no one left to read it."""
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))
    app = create_app(config, keys=KEYS, smtp=parse_smtp_url(smtp_server.url))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/subscribe",
        "raw_path": b"/subscribe",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 9),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = sent[0]
    assert start["type"] == "http.response.start" and start["status"] == 400
    _assert_secured({k.decode(): v.decode() for k, v in start["headers"]}, "client gone")


# -- 2. A write lock held by another process ---------------------------------------------


def test_a_held_write_lock_stalls_no_read_and_a_write_answers_503(
    site: RunningSite, smtp_server: SmtpServer
) -> None:
    """Another process holds the store's write lock (a real second connection, BEGIN
    IMMEDIATE on the same file). Every page that only reads, the stylesheet included,
    answers while the writes are still waiting for the lock; each write then answers 503
    with Retry-After and changes nothing; once the lock is free the same write goes through."""
    pending = _add(site, "pending@example.org", "pending")
    confirmed = _add(site, "confirmed@example.org", "confirmed")
    with Store(site.config.store) as store:
        store.save_issue(_sent_issue("2023-W19"))
        store.set_issue_status("2023-W19", "sent")
    confirm = f"/confirm/{make_token(KEYS, CONFIRM, pending, site.clock())}"
    leave = f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, confirmed)}"
    reads = ["/", "/archives/", "/archives/feed.xml", "/archives/2023-W19/", "/static/site.css"]
    reads += [confirm, leave]
    form = {"email": "new@example.org", "website": ""}
    writes = [
        ("/subscribe", form, {}),
        (confirm, {}, {}),
        (leave, {}, {}),
        (leave, {"List-Unsubscribe": "One-Click"}, {}),
    ]

    def post(path: str, data: dict[str, str], cookies: dict[str, str]) -> httpx.Response:
        with httpx.Client(base_url=site.url, cookies=cookies, timeout=60) as writer:
            return writer.post(path, data=data)

    before = _rows(site.config.store)
    holder = sqlite3.connect(site.config.store, isolation_level=None)
    with ThreadPoolExecutor(len(writes)) as pool:
        try:
            holder.execute("BEGIN IMMEDIATE")
            waiting = [pool.submit(post, *write) for write in writes]
            time.sleep(0.5)  # a head start, so that the writes are waiting for the lock
            with httpx.Client(base_url=site.url, timeout=10) as reader:
                answers = {path: reader.get(path) for path in reads}
            answered_first = not any(w.done() for w in waiting)
            written = [w.result() for w in waiting]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert {path: a.status_code for path, a in answers.items()} == dict.fromkeys(reads, 200)
    assert answered_first, "a page that only reads waited for the lock"
    for answer in written:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "10"
        assert "Site momentanément occupé" in answer.text
        _assert_secured(answer.headers, "503")
    assert _rows(site.config.store) == before
    assert post(*writes[0]).status_code == 200  # the lock is free: the same write goes through
    with Store(site.config.store) as store:
        assert store.subscriber_by_email("new@example.org") is not None


def test_the_confirmation_mailer_outlives_a_held_write_lock(
    tmp_path: Path, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The mailer thread claims owed emails in a write transaction. When another process
    held the lock longer than its busy timeout, the error ended the thread, and no
    confirmation email went out until the site restarted. Now it logs, waits and tries
    again: the owed email goes out once the lock is free, without any new request."""
    path, clock = tmp_path / "digest.db", Clock(datetime(2026, 5, 11, 9, tzinfo=UTC))
    with Store(path) as store:
        lea = store.create_subscriber(
            "lea@example.org", "", "pending", "fr", clock(), event="subscribe", source="web"
        )
        assert lea is not None
        store.owe_confirmation(lea, clock())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    mailer = Mailer(parse_smtp_url(smtp_server.url), path, _plain_email, clock, busy_timeout=0.2)
    try:
        with caplog.at_level(logging.WARNING, logger="digest.web"):
            mailer.start()
            _wait_for(lambda: any("store busy" in r.getMessage() for r in caplog.records))
        holder.execute("ROLLBACK")
        [received] = smtp_server.wait_for(1)
        assert mailer.thread is not None and mailer.thread.is_alive()
    finally:
        holder.close()
        mailer.stop()
    assert received.rcpt_tos == ("lea@example.org",)


def _plain_email(subscriber_id: int, address: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Lettre <lettre@example.org>"
    message["To"] = address
    message["Subject"] = "Confirmez"
    message.set_content("Bonjour")
    return message


def _sent_issue(issue_id: str) -> StoredIssue:
    start = datetime(2023, 5, 8, tzinfo=UTC)
    end = datetime(2023, 5, 15, tzinfo=UTC)
    web = "<html><body><h1>En ligne</h1></body></html>"
    return StoredIssue(issue_id, start, end, end, "{}", "<html></html>", "text", web, "built")


# -- 4. Subscribing does the same work whatever the address's state ----------------------


def test_subscribing_does_the_same_store_and_mailer_work_whatever_the_state(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confirmed addresses used to answer in half the time of new ones (no transaction, no
    mailer wake-up), which told anyone who was subscribed. Now each valid request, for a new,
    pending, confirmed, unsubscribed or bounced address, runs one write transaction holding
    the same "confirmation owed" update, and wakes the mailer once, after the answer; only
    the email itself is sent when it should be. Seen on the real site, through the
    statements its store connections really execute."""
    statements: list[str] = []

    class TracedStore(Store):
        def __init__(self, path: Path, **options: Any) -> None:
            super().__init__(path, **options)
            self.db.set_trace_callback(statements.append)

    monkeypatch.setattr("digest.web.storage.Store", TracedStore)
    wakes: list[str] = []
    wake = Mailer.wake
    monkeypatch.setattr(Mailer, "wake", lambda self: (wakes.append("wake"), wake(self)))
    with running_site(tmp_path, smtp_server.url) as site:
        for status in ("confirmed", "unsubscribed", "bounced"):
            _add(site, f"{status}@example.org", status)
        with httpx.Client(base_url=site.url) as client:
            work: dict[str, tuple[list[str], int, str]] = {}
            for state, email, mailed in [
                ("new", "pending@example.org", 1),
                ("pending", "pending@example.org", 2),
                ("confirmed", "confirmed@example.org", 2),
                ("unsubscribed", "unsubscribed@example.org", 3),
                ("bounced", "bounced@example.org", 4),
            ]:
                statements.clear()
                woken = len(wakes)
                form = {"email": email, "website": ""}
                answer = client.post("/subscribe", data=form)
                _wait_for(lambda before=woken: len(wakes) > before)  # after the answer
                work[state] = (list(statements), len(wakes) - woken, answer.text)
                smtp_server.wait_for(mailed)  # one email at a time: none is merged
    for state, (done, woken, text) in work.items():
        transactions = [s for s in done if s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))]
        assert transactions == ["BEGIN IMMEDIATE", "COMMIT"], (state, done)
        owed = [s for s in done if s.startswith("UPDATE subscribers SET confirm_due_at")]
        assert len(owed) == 1, (state, done)
        assert woken == 1, state
        assert text == work["new"][2], state
    # In order: an email to the confirmed address would come before the third one.
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [
        "pending@example.org",
        "pending@example.org",
        "unsubscribed@example.org",
        "bounced@example.org",
    ]


def test_a_transaction_inside_a_transaction_is_a_savepoint(tmp_path: Path) -> None:
    """What lets request_subscription make its store calls one transaction: an inner one
    that fails undoes its own work only, and the outer one commits the rest."""
    now = datetime(2026, 5, 11, 9, tzinfo=UTC)
    with Store(tmp_path / "digest.db") as store:
        with store.transaction():
            kept = store.create_subscriber("kept@example.org", "", "pending", "fr", now,
                                           event="subscribe", source="web")  # fmt: skip
            with pytest.raises(RuntimeError), store.transaction() as db:
                db.execute("UPDATE subscribers SET status = 'confirmed'")
                raise RuntimeError("the inner part fails")
            assert store.create_subscriber("kept@example.org", "", "pending", "fr", now,
                                           event="subscribe", source="web") is None  # fmt: skip
        assert not store.db.in_transaction
    with Store(tmp_path / "digest.db") as store:
        assert [(s.id, s.status) for s in store.subscribers()] == [(kept, "pending")]
        assert [r.event for r in store.consent_log(kept or 0)] == ["subscribe"]


# -- 5. The log of `digest serve` ---------------------------------------------------------

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (INFO|WARNING|ERROR) [a-z.]+: .+")


def test_digest_serve_logs_timestamped_lines_honeypot_and_mailer_errors_included(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A real `digest serve`: its stderr holds one line per event, each timestamped and in
    one format (uvicorn's own lines too), and the lines the site's logger writes are there:
    the honeypot hit (INFO, once lost) and the mailer giving up on a refused address."""
    smtp_server.script.rcpt["refused@example.org"] = "550 5.1.1 No such user"
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # uvicorn binds it again (SO_REUSEADDR): a short, harmless race on loopback
    config = write_config(tmp_path, f"http://127.0.0.1:{port}")
    env = {**os.environ, "DIGEST_SECRET": KEYS.signing.decode(), "DIGEST_SMTP_URL": smtp_server.url}
    command = [sys.executable, "-m", "digest", "--config", str(config), "serve", "--port",
               str(port)]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, server)
        with httpx.Client(base_url=url) as client:
            assert subscribe(client, "bot@example.org", website="http://spam").status_code == 200
            assert subscribe(client, "refused@example.org").status_code == 200
        # The mailer clears the mark right after it logs that it gave up: wait for that.
        _wait_for(lambda: _owed(tmp_path / "digest.db", "refused@example.org") is None, 30)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    lines = err.decode().splitlines()
    assert lines and all(LINE.fullmatch(line) for line in lines), lines
    said = [line.split(" ", 1)[1] for line in lines]
    assert "INFO digest.web: honeypot filled from 127.0.0.1: nothing done" in said
    assert any(
        s.startswith("ERROR digest.web: confirmation email to refused@example.org not sent,")
        for s in said
    ), said
    assert (
        f"INFO uvicorn.error: Uvicorn running on http://127.0.0.1:{port} (Press CTRL+C to quit)"
        in said
    )
    assert any(
        s.startswith("INFO uvicorn.access: 127.0.0.1:") and '"POST /subscribe' in s for s in said
    )


def _owed(store_path: Path, email: str) -> str | None:
    with closing(sqlite3.connect(store_path)) as db:
        row = db.execute("SELECT confirm_due_at FROM subscribers WHERE email = ?", (email,))
        found = row.fetchone()
    return "not yet subscribed" if found is None else found[0]
