"""The staff console's foundation against a real uvicorn on 127.0.0.1: sessions, the guard
on every /admin/ URL, CSRF, sign-in throttling, the audit log and the dashboard."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from digest.web import create_app
from digest.web.staff import remove_account
from tests.console_support import EMAIL, PASSWORD, add_staff, hidden, sign_in, store_issue
from tests.smtp_server import SmtpServer
from tests.web_support import (
    KEYS,
    Clock,
    RunningSite,
    bound_socket,
    running_site,
    serve,
    write_config,
)

LIMITS = "console:\n  failures_per_account: 3\n  failures_per_ip: 5\n"


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url, extra=LIMITS) as running:
        add_staff(running)
        yield running


@pytest.fixture
def client(site: RunningSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as c:
        yield c


def _signed_in(client: httpx.Client) -> None:
    answer = sign_in(client)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/admin/"


def _audit(site: RunningSite) -> list[tuple[str, str]]:
    with Store(site.config.store) as store:
        return [(e.action, e.actor) for e in reversed(store.audit_entries())]


# -- the guard ----------------------------------------------------------------------------


def _console_urls(site: RunningSite) -> list[tuple[str, str]]:
    """Every console route of the app with each of its methods, and URLs no route has."""
    app = create_app(site.config, keys=KEYS, smtp=parse_smtp_url("smtp://127.0.0.1:1"))
    found = [
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/admin")
        for method in sorted(route.methods or ())
    ]
    unknown = ["/admin", "/admin/nothing", "/admin/issues/2026-W19", "/admin/static/x.css"]
    return found + [(m, path) for path in unknown for m in ("GET", "HEAD", "POST")]


def test_every_console_url_without_a_session_is_refused(
    site: RunningSite, client: httpx.Client
) -> None:
    urls = _console_urls(site)
    assert ("GET", "/admin/") in urls and ("POST", "/admin/logout") in urls
    for cookie in (None, "forged-token"):
        client.cookies.clear()
        if cookie:
            client.cookies.set("digest-staff", cookie, path="/admin")
        for method, path in urls:
            if path == "/admin/login":
                continue
            answer = client.request(method, path, data={"csrf": "x"} if method == "POST" else None)
            if method in ("GET", "HEAD"):
                assert answer.status_code == 303, (method, path)
                assert answer.headers["location"].startswith("/admin/login?next=")
            else:
                assert answer.status_code == 403, (method, path)
            assert "Tableau de bord" not in answer.text, (method, path)


def test_sign_in_then_the_dashboard_then_sign_out(site: RunningSite, client: httpx.Client) -> None:
    first = client.get("/admin/")
    assert first.status_code == 303 and first.headers["location"] == "/admin/login?next=/admin/"
    answer = sign_in(client, next_url="/admin/")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "digest-staff=" in cookie and "HttpOnly" in cookie and "Path=/admin" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie  # base_url is http here
    board = client.get("/admin/")
    assert board.status_code == 200 and "Tableau de bord" in board.text
    assert "frame-ancestors 'none'" in board.headers["content-security-policy"]
    assert board.headers["cache-control"] == "no-store"
    out = client.post("/admin/logout", data={"csrf": hidden(board.text, "csrf")})
    assert out.status_code == 303 and out.headers["location"] == "/admin/login?out=1"
    assert client.get("/admin/").status_code == 303
    assert _audit(site)[-2:] == [("sign_in", EMAIL), ("sign_out", EMAIL)]


def test_the_old_cookie_is_dead_after_sign_out(site: RunningSite, client: httpx.Client) -> None:
    _signed_in(client)
    token = client.cookies.get("digest-staff")
    board = client.get("/admin/")
    client.post("/admin/logout", data={"csrf": hidden(board.text, "csrf")})
    client.cookies.set("digest-staff", token or "", path="/admin")  # replayed
    assert client.get("/admin/").status_code == 303


def test_next_never_leads_off_the_console(site: RunningSite, client: httpx.Client) -> None:
    for target in ("https://evil.example/", "//evil.example/admin/", "/admin/login", "/"):
        client.cookies.clear()
        assert sign_in(client, next_url=target).headers["location"] == "/admin/"
    client.cookies.clear()
    assert sign_in(client, next_url="/admin/x").headers["location"] == "/admin/x"


def test_a_secure_cookie_when_base_url_is_https(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = load_config(write_config(tmp_path, "https://lettre.example.org"))
    sock = bound_socket()
    app = create_app(config, keys=KEYS, smtp=parse_smtp_url(smtp_server.url), clock=Clock())
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with serve(app, sock), httpx.Client(base_url=url, timeout=30) as client:
        site = RunningSite(url, config, Clock())
        add_staff(site)
        page = client.get("/admin/login")
        form = {"csrf": hidden(page.text, "csrf"), "email": EMAIL, "password": PASSWORD}
        # httpx keeps a Secure cookie from an http URL out of the jar: send it by hand.
        csrf_cookie = page.headers["set-cookie"].split(";")[0]
        answer = client.post(
            "/admin/login", data=form, headers={"cookie": csrf_cookie}, follow_redirects=False
        )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Secure-digest-staff=") and "Secure" in cookie


# -- sessions -----------------------------------------------------------------------------


def test_a_removed_account_s_session_stops_working(site: RunningSite, client: httpx.Client) -> None:
    _signed_in(client)
    assert client.get("/admin/").status_code == 200
    with Store(site.config.store) as store:
        remove_account(store, EMAIL, now=site.clock())
    assert client.get("/admin/").status_code == 303
    assert client.post("/admin/logout", data={"csrf": "x"}).status_code == 403


def test_a_session_ends_when_idle_and_at_its_lifetime(
    site: RunningSite, client: httpx.Client
) -> None:
    _signed_in(client)
    site.clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200  # used: idle time starts again
    site.clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200
    site.clock.advance(minutes=31)
    assert client.get("/admin/").status_code == 303
    _signed_in(client)
    signed_at, quarters = site.clock.now, 0
    while client.get("/admin/").status_code == 200 and quarters < 100:
        site.clock.advance(minutes=15)  # used every quarter of an hour, never idle
        quarters += 1
    lasted = site.clock.now - signed_at
    assert timedelta(hours=12) < lasted <= timedelta(hours=12, minutes=15)


def test_a_new_password_ends_the_sessions(site: RunningSite, client: httpx.Client) -> None:
    _signed_in(client)
    add_staff(site, password="another long passphrase")
    assert client.get("/admin/").status_code == 303


# -- CSRF, GET changes nothing ------------------------------------------------------------


def test_a_console_post_without_its_csrf_token_is_refused(
    site: RunningSite, client: httpx.Client
) -> None:
    _signed_in(client)
    for form in ({}, {"csrf": ""}, {"csrf": "forged"}):
        answer = client.post("/admin/logout", data=form)
        assert answer.status_code == 403
    assert client.get("/admin/").status_code == 200  # still signed in: nothing was done
    other = httpx.Client(base_url=site.url, timeout=30)
    sign_in(other)
    theirs = hidden(other.get("/admin/").text, "csrf")
    assert client.post("/admin/logout", data={"csrf": theirs}).status_code == 403
    other.close()


def test_the_sign_in_form_needs_its_csrf_token(site: RunningSite, client: httpx.Client) -> None:
    answer = client.post("/admin/login", data={"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 403 and "digest-staff" not in answer.headers.get("set-cookie", "")


def test_get_and_head_of_sign_out_change_nothing(site: RunningSite, client: httpx.Client) -> None:
    _signed_in(client)
    for method in ("GET", "HEAD"):
        assert client.request(method, "/admin/logout").status_code == 405
    assert client.get("/admin/").status_code == 200


# -- throttling ---------------------------------------------------------------------------


def _comparable(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, re.sub(r'value="[^"]*"', "", answer.text)


def test_unknown_and_known_accounts_get_the_same_answer(
    site: RunningSite, client: httpx.Client
) -> None:
    known = sign_in(client, EMAIL, "wrong password here")
    unknown = sign_in(client, "nobody@cerdd.example.org", "wrong password here")
    assert known.status_code == 400
    assert _comparable(known) == _comparable(unknown)
    assert "Adresse ou mot de passe incorrect" in known.text


def test_sign_in_is_throttled_per_account(site: RunningSite, client: httpx.Client) -> None:
    for _ in range(3):
        assert sign_in(client, EMAIL, "wrong password here").status_code == 400
    refused = sign_in(client)  # the right password, but too late
    assert refused.status_code == 429 and "Trop de tentatives" in refused.text
    assert client.get("/admin/").status_code == 303
    # The same for an address that has no account: nothing tells them apart.
    for _ in range(3):
        sign_in(client, "nobody@cerdd.example.org", "wrong password here")
    unknown = sign_in(client, "nobody@cerdd.example.org", "wrong password here")
    assert _comparable(unknown) == _comparable(refused)
    site.clock.advance(minutes=16)  # the window is over
    assert sign_in(client).status_code == 303
    actions = [a for a, _ in _audit(site)]
    # 3 + 2 failures, then the IP's limit (5) refused the unknown address's third try too.
    assert actions.count("sign_in_failed") == 5 and actions.count("sign_in_throttled") == 3


def test_sign_in_is_throttled_per_ip(site: RunningSite, client: httpx.Client) -> None:
    for n in range(5):
        assert sign_in(client, f"guess{n}@cerdd.example.org", "wrong password").status_code == 400
    assert sign_in(client).status_code == 429  # another address, same IP


def test_a_failed_sign_in_is_logged_without_the_password(
    site: RunningSite, client: httpx.Client
) -> None:
    sign_in(client, EMAIL, "the wrong secret")
    with Store(site.config.store) as store:
        (entry,) = [e for e in store.audit_entries() if e.action != "staff_added"]
        raw = store.db.execute("SELECT * FROM audit_log").fetchall()
    assert (entry.action, entry.actor, entry.ip) == ("sign_in_failed", EMAIL, "127.0.0.1")
    assert "the wrong secret" not in repr(raw)


# -- the dashboard ------------------------------------------------------------------------


def test_the_dashboard_shows_the_due_issue_and_what_run_would_do(
    site: RunningSite, client: httpx.Client
) -> None:
    # The clock is Monday 11 May 2026, 11:00 in Paris: the due issue is 2026-W19's.
    store_issue(site, "2026-W18", [{"name": "Ok", "status": "ok", "items": 3}], "sent")
    _signed_in(client)
    board = client.get("/admin/").text
    assert "2026-W19" in board and "pas encore construite" in board
    assert "Elle serait construite" in board
    assert "2026-W18" in board and "envoyée" in board
    store_issue(site, "2026-W19", [{"name": "Ok", "status": "ok", "items": 1}])
    board = client.get("/admin/").text
    assert "Elle ne serait pas envoyée" in board and "seulement 0 article" in board


def test_feed_text_shows_as_text_on_the_dashboard(site: RunningSite, client: httpx.Client) -> None:
    hostile = "<script>alert(1)</script>"
    failing = {"name": f"Flux {hostile}", "status": "error", "items": 0, "error": hostile}
    store_issue(site, "2026-W18", [failing])
    store_issue(site, "2026-W19", [failing])
    _signed_in(client)
    board = client.get("/admin/").text
    assert "<script>" not in board
    assert "Flux &lt;script&gt;alert(1)&lt;/script&gt;" in board
    # French dates keep their words together (no-break spaces): compare the words.
    words = board.replace("\u00a0", " ").replace("\u202f", " ")
    assert "en échec depuis" in words and "4 mai 2026" in words  # since the W18 build


def test_sessions_left_unused_are_deleted_at_the_next_sign_in(
    site: RunningSite, client: httpx.Client
) -> None:
    _signed_in(client)  # then the browser is closed: the session is never used again
    site.clock.advance(minutes=31)
    with httpx.Client(base_url=site.url, timeout=30) as other:
        _signed_in(other)
    with Store(site.config.store) as store:
        (count,) = store.db.execute("SELECT COUNT(*) FROM staff_sessions").fetchone()
    assert count == 1


def test_sign_ins_sent_at_once_get_no_more_guesses(site: RunningSite, client: httpx.Client) -> None:
    """The limits are counted and the attempt recorded in one transaction, before the
    password check: ten wrong passwords sent together get the same three guesses."""
    page = client.get("/admin/login")
    form = {"csrf": hidden(page.text, "csrf"), "email": EMAIL, "password": "wrong password"}
    cookies = dict(client.cookies)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=site.url, cookies=cookies, timeout=60) as own:
            return own.post("/admin/login", data=form).status_code

    with ThreadPoolExecutor(10) as pool:
        answers = sorted(pool.map(attempt, range(10)))
    assert answers == [400] * 3 + [429] * 7


def test_a_held_write_lock_answers_503_not_the_page(site: RunningSite) -> None:
    """Checking a session writes its last use: while another process holds the store's
    write lock past the busy timeout, a console page answers 503 with Retry-After, as the
    site's writes do (it answered 500 before), and never its content."""
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=60) as client:
        _signed_in(client)
        site.clock.advance(minutes=2)  # its last use is written at most once a minute
        holder = sqlite3.connect(site.config.store, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            answer = client.get("/admin/")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "10"
        assert "Tableau de bord" not in answer.text
        assert client.get("/admin/").status_code == 200  # the lock is free: the page again
