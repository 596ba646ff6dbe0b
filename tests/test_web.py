"""The subscription site against a real uvicorn on 127.0.0.1 and a real aiosmtpd."""

from __future__ import annotations

import html
import logging
import os
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest.models import Subscriber
from digest.store import Store, StoredIssue
from digest.tokens import CONFIRM, UNSUBSCRIBE, make_token, unsubscribe_url
from digest.web.security import limit_key
from tests.smtp_server import SmtpServer
from tests.web_support import (
    KEYS,
    Clock,
    RunningSite,
    bound_socket,
    link_in,
    running_site,
    write_config,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url) as running:
        yield running


@pytest.fixture
def client(site: RunningSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=10) as c:
        yield c


def subscriber(site: RunningSite, email: str) -> Subscriber | None:
    with Store(site.config.store) as store:
        return store.subscriber_by_email(email)


def subscribe(client: httpx.Client, email: str, **extra: str) -> httpx.Response:
    """The form's POST as any site sends it: no cookie, no page read first."""
    form = {"email": email, "website": "", **extra}
    return client.post("/subscribe", data=form)


def test_double_opt_in_then_one_click_unsubscribe(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    answer = subscribe(client, "Camille.Martin@Example.ORG")
    assert answer.status_code == 200
    assert "Vérifiez votre boîte de réception" in answer.text
    (received,) = smtp_server.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ("camille.martin@example.org",)
    assert message["Subject"] == "Confirmez votre inscription à Lettre du Cerdd"
    body = message.get_content()
    confirm = link_in(body, site.url, "confirm")

    page = client.get(confirm)  # a link scanner's GET changes nothing
    assert page.status_code == 200 and "Je confirme mon inscription" in page.text
    found = subscriber(site, "camille.martin@example.org")
    assert found is not None and found.status == "pending"

    done = client.post(confirm)  # the token is the proof: no CSRF field, no cookie needed
    assert done.status_code == 200 and "Inscription confirmée" in done.text
    found = subscriber(site, "camille.martin@example.org")
    assert found is not None and found.status == "confirmed"

    # RFC 8058: a mail client POSTs to the List-Unsubscribe URL, without any cookie.
    url = unsubscribe_url(site.config, found.id, KEYS)
    with httpx.Client(follow_redirects=False) as mail_client:
        one_click = mail_client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "set-cookie" not in one_click.headers and "location" not in one_click.headers
    found = subscriber(site, "camille.martin@example.org")
    assert found is not None and found.status == "unsubscribed"
    with Store(site.config.store) as store:
        events = [(r.event, r.source, r.ip) for r in store.consent_log(found.id)]
    assert events == [
        ("subscribe", "web", "127.0.0.1"),
        ("confirm", "web", "127.0.0.1"),
        ("unsubscribe", "one-click", "127.0.0.1"),
    ]


def test_confirmation_email_holds_no_visitor_text(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    subscribe(client, "visitor@example.org", name="ACHETEZ http://spam.example")
    message = smtp_server.wait_for(1)[0].message
    text = message.as_string()
    assert "spam.example" not in text and "ACHETEZ" not in text
    assert message["From"] == "Lettre du Cerdd <lettre@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"


def test_unsubscribe_page_has_a_button_and_post_unsubscribes(
    site: RunningSite, client: httpx.Client
) -> None:
    subscribe(client, "reader@example.org")
    found = subscriber(site, "reader@example.org")
    assert found is not None
    url = unsubscribe_url(site.config, found.id, KEYS)
    page = client.get(url)
    assert page.status_code == 200 and "Je me désinscris" in page.text
    assert subscriber(site, "reader@example.org").status == "pending"  # type: ignore[union-attr]
    assert 'name="csrf"' not in page.text and "set-cookie" not in page.headers
    # A reader whose browser blocks cookies can leave: a fresh client, no cookie at all.
    with httpx.Client(base_url=site.url) as cookieless:
        done = cookieless.post(url)
    assert done.status_code == 200 and "Désinscription enregistrée" in done.text
    assert subscriber(site, "reader@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_forged_and_misused_tokens_get_4xx_and_change_nothing(
    site: RunningSite, client: httpx.Client
) -> None:
    subscribe(client, "target@example.org")
    found = subscriber(site, "target@example.org")
    assert found is not None
    good_unsub = make_token(KEYS, UNSUBSCRIBE, found.id)
    good_confirm = make_token(KEYS, CONFIRM, found.id, site.clock())
    forged = [
        ("unsubscribe", good_unsub[:-2] + ("AA" if not good_unsub.endswith("AA") else "BB")),
        ("unsubscribe", good_confirm),  # a confirm token cannot unsubscribe
        ("confirm", good_unsub),  # and the reverse
        ("unsubscribe", good_unsub.replace(f"u.{found.id}.", f"u.{found.id + 1}.")),
        ("unsubscribe", "u.1.deadbeef.AAAAAAAAAAAAAAAAAAAAAA"),  # unknown key id
        ("unsubscribe", "nonsense"),
        ("confirm", "c.1.2.3.4"),
    ]
    for kind, token in forged:
        page = client.get(f"/{kind}/{token}")
        assert 400 <= page.status_code < 500, (kind, token, page.status_code)
        csrf = client.cookies.get("digest-csrf") or ""
        posted = client.post(f"/{kind}/{token}", data={"csrf": csrf})
        assert 400 <= posted.status_code < 500, (kind, token, posted.status_code)
        one_click = client.post(f"/{kind}/{token}", data={"List-Unsubscribe": "One-Click"})
        assert 400 <= one_click.status_code < 500
    assert subscriber(site, "target@example.org").status == "pending"  # type: ignore[union-attr]
    with Store(site.config.store) as store:
        assert [r.event for r in store.consent_log(found.id)] == ["subscribe"]


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "a@b",
        "two@@example.org",
        "victim@example.org\r\nBcc: other@example.org",
        "victim@example.org\nBcc: other@example.org",
        "Camille <camille@example.org>",
        '"Camille" camille@example.org',
        "x" * 250 + "@example.org",
        "camille@" + "a" * 64 + ".org",
        "",
    ],
)
def test_bad_addresses_are_refused_and_nothing_is_sent(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer, address: str
) -> None:
    answer = subscribe(client, address)
    assert answer.status_code == 400
    assert "Cette adresse n’est pas valide" in html.unescape(answer.text)
    with Store(site.config.store) as store:
        assert store.subscribers() == []
    assert smtp_server.messages == []


def test_no_enumeration_same_answer_for_new_pending_and_confirmed(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    first = subscribe(client, "new@example.org")
    smtp_server.wait_for(1)
    again = subscribe(client, "new@example.org")  # pending: the link is sent again
    smtp_server.wait_for(2)
    with Store(site.config.store) as store:
        store.create_subscriber(
            "known@example.org", "", "confirmed", "fr", site.clock(), event="add", source="cli"
        )
    known = subscribe(client, "known@example.org")
    assert first.status_code == again.status_code == known.status_code == 200
    assert first.text == again.text == known.text
    assert first.headers.get("set-cookie") is None and known.headers.get("set-cookie") is None
    # The confirmed address got nothing new: a third message never comes.
    subscribe(client, "other@example.org")
    received = smtp_server.wait_for(3)
    assert [m.rcpt_tos for m in received] == [
        ("new@example.org",),
        ("new@example.org",),
        ("other@example.org",),
    ]


def test_honeypot_gets_the_same_answer_and_nothing_happens(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    bot = subscribe(client, "bot@example.org", website="http://spam.example")
    person = subscribe(client, "person@example.org")
    assert bot.status_code == person.status_code == 200
    assert bot.text == person.text
    smtp_server.wait_for(1)
    assert subscriber(site, "bot@example.org") is None
    assert [m.rcpt_tos for m in smtp_server.messages] == [("person@example.org",)]


def test_rate_limits_per_address_and_per_ip(tmp_path: Path, smtp_server: SmtpServer) -> None:
    extra = "site:\n  per_address: 2\n  per_ip: 4\n"
    with (
        running_site(tmp_path, smtp_server.url, extra) as site,
        httpx.Client(base_url=site.url) as client,
    ):
        # Each email is awaited: a request while the last one is being sent may be folded
        # into it (the mark it set is cleared by the send), and this test counts emails.
        codes = [subscribe(client, "bombed@example.org").status_code]
        smtp_server.wait_for(1)
        codes += [subscribe(client, "bombed@example.org").status_code for _ in range(2)]
        assert codes == [200, 200, 429]
        limited = subscribe(client, "bombed@example.org")
        assert "Trop de demandes" in limited.text and limited.headers["retry-after"] == "3600"
        codes = [subscribe(client, f"p{i}@example.org").status_code for i in range(2)]
    # 4 per IP: the 3 first ones for bombed@ and p0@ used them up.
    assert codes == [429, 429]
    assert len(smtp_server.wait_for(2)) == 2
    assert [m.rcpt_tos for m in smtp_server.messages] == [("bombed@example.org",)] * 2


def test_rate_limit_can_be_turned_off(tmp_path: Path, smtp_server: SmtpServer) -> None:
    extra = "site:\n  rate_limit: false\n  per_address: 1\n  per_ip: 1\n"
    with (
        running_site(tmp_path, smtp_server.url, extra) as site,
        httpx.Client(base_url=site.url) as client,
    ):
        codes = [subscribe(client, "same@example.org").status_code for _ in range(3)]
    assert codes == [200, 200, 200]


def test_a_form_on_another_site_subscribes(site: RunningSite, smtp_server: SmtpServer) -> None:
    """DESIGN §3: the form copied onto a partner's site posts with no cookie and no prior
    GET, from another origin; it starts double opt-in like the site's own form."""
    headers = {"origin": "https://partner.example.com", "referer": "https://partner.example.com/"}
    with httpx.Client(base_url=site.url, headers=headers) as stranger:
        answer = stranger.post("/subscribe", data={"email": "embed@example.org", "website": ""})
        assert "set-cookie" not in answer.headers
    assert answer.status_code == 200 and "Vérifiez votre boîte" in answer.text
    found = subscriber(site, "embed@example.org")
    assert found is not None and found.status == "pending"  # not subscribed until confirmed
    assert smtp_server.wait_for(1)[0].rcpt_tos == ("embed@example.org",)


def test_the_embed_page_serves_the_snippet_that_works(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    page = client.get("/embed")
    assert page.status_code == 200
    shown = re.search(r"<pre><code>(.*?)</code></pre>", page.text, re.S)
    assert shown is not None
    snippet = html.unescape(shown.group(1))
    assert f'action="{site.url}/subscribe"' in snippet and 'name="website"' in snippet
    assert "<script" not in snippet and "style=" not in snippet and "csrf" not in snippet
    fields = dict(re.findall(r'name="(\w+)"[^>]*?(?:value="([^"]*)")?', snippet))
    with httpx.Client() as partner:  # what the copied form sends, from nowhere in particular
        answer = partner.post(f"{site.url}/subscribe", data={**fields, "email": "copy@example.org"})
    assert answer.status_code == 200 and subscriber(site, "copy@example.org") is not None


def test_expired_confirm_link(site: RunningSite, client: httpx.Client) -> None:
    subscribe(client, "slow@example.org")
    found = subscriber(site, "slow@example.org")
    assert found is not None
    token = make_token(KEYS, CONFIRM, found.id, site.clock())
    site.clock.advance(days=8)
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 410 and "Lien expiré" in page.text
    csrf = client.cookies.get("digest-csrf") or ""
    assert client.post(f"/confirm/{token}", data={"csrf": csrf}).status_code == 410
    assert subscriber(site, "slow@example.org").status == "pending"  # type: ignore[union-attr]


def test_unsubscribed_address_can_subscribe_again_through_double_opt_in(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    with Store(site.config.store) as store:
        new_id = store.create_subscriber(
            "back@example.org", "", "unsubscribed", "fr", site.clock(), event="add", source="cli"
        )
    answer = subscribe(client, "back@example.org")
    assert answer.status_code == 200
    body = smtp_server.wait_for(1)[0].message.get_content()
    assert f"/confirm/c.{new_id}." in body
    assert subscriber(site, "back@example.org").status == "pending"  # type: ignore[union-attr]


def test_security_headers_on_every_page(site: RunningSite, client: httpx.Client) -> None:
    for path in ("/", "/archives/", "/static/site.css", "/nowhere", "/archives/feed.xml", "/embed"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    with httpx.Client(base_url=site.url) as fresh:
        home = fresh.get("/")
    assert "set-cookie" not in home.headers  # the form needs none (DESIGN §3), so none is set
    assert "<script" not in home.text and "style=" not in home.text
    assert client.get("/nowhere").status_code == 404
    wrong = client.put("/subscribe")  # HTTP: a 405 names the methods that are allowed
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    assert "x-frame-options" in wrong.headers and "Erreur" in wrong.text


def _issue(issue_id: str, start: datetime, end: datetime, web: str) -> StoredIssue:
    return StoredIssue(issue_id, start, end, end, "{}", "<html></html>", "text", web, "built")


def test_archives_show_only_sent_issues(site: RunningSite, client: httpx.Client) -> None:
    empty = ET.fromstring(client.get("/archives/feed.xml").content)
    updated = empty.findtext("{http://www.w3.org/2005/Atom}updated") or ""
    assert updated == site.clock().isoformat()  # an empty feed is as new as the site
    with Store(site.config.store) as store:
        store.save_issue(
            _issue(
                "2023-W19",
                datetime(2023, 5, 8, tzinfo=PARIS),
                datetime(2023, 5, 15, tzinfo=PARIS),
                "<html><body><h1>Semaine 19 en ligne</h1></body></html>",
            )
        )
        store.save_issue(
            _issue(
                "2023-W20",
                datetime(2023, 5, 15, tzinfo=UTC),
                datetime(2023, 5, 22, tzinfo=UTC),
                "<html><body>brouillon</body></html>",
            )
        )
        store.set_issue_status("2023-W19", "sent")
        store.set_issue_subject("2023-W19", "Le budget participatif d'Arras, et 5 autres")
    index = client.get("/archives/")
    assert "Semaine du 8 au 14\u00a0mai\u00a02023" in index.text and "2023-W20" not in index.text
    assert "Le budget participatif d&#39;Arras, et 5 autres" in index.text  # the subject
    page = client.get("/archives/2023-W19/")
    assert page.status_code == 200 and "Semaine 19 en ligne" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.get("/archives/2023-W20/").status_code == 404  # built, not sent
    assert client.get("/archives/../etc/").status_code == 404
    assert "/archives/2023-W19/" in client.get("/").text
    feed = client.get("/archives/feed.xml")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = root.findall(f"{atom}entry")
    assert [e.findtext(f"{atom}id") for e in entries] == [f"{site.url}/archives/2023-W19/"]
    assert entries[0].findtext(f"{atom}title") == "Le budget participatif d'Arras, et 5 autres"


def test_english_site(tmp_path: Path, smtp_server: SmtpServer) -> None:
    with (
        running_site(tmp_path, smtp_server.url, language="en") as site,
        httpx.Client(base_url=site.url) as client,
    ):
        home = client.get("/")
        answer = subscribe(client, "reader@example.org")
    assert '<html lang="en">' in home.text and "Subscribe" in home.text
    assert "Check your inbox" in answer.text
    message = smtp_server.wait_for(1)[0].message
    assert message["Subject"] == "Confirm your subscription to Lettre du Cerdd"


SITE_PO = """\
msgid "site.home_intro"
msgstr "Chaque vendredi, le meilleur de la semaine : à vous de voir !"

msgid "site.email_subject"
msgstr "Un clic pour recevoir {title} !"
"""


def test_staff_wording_of_the_site(tmp_path: Path, smtp_server: SmtpServer) -> None:
    """templates/locale/fr.po overrides the site's messages one by one, pages and the
    confirmation email alike; written with ordinary spaces, it gets French ones."""
    (tmp_path / "templates" / "locale").mkdir(parents=True)
    (tmp_path / "templates" / "locale" / "fr.po").write_text(SITE_PO, encoding="utf-8")
    with (
        running_site(tmp_path, smtp_server.url, extra="templates: templates\n") as site,
        httpx.Client(base_url=site.url) as client,
    ):
        home = client.get("/")
        subscribe(client, "reader@example.org")
    intro = "Chaque vendredi, le meilleur de la semaine\u00a0: à vous de voir\u202f!"
    assert intro in home.text
    assert "Je m’inscris" in home.text  # not overridden: the package's
    message = smtp_server.wait_for(1)[0].message
    # The subject line is single-spaced (its words joined by plain spaces) as before.
    assert message["Subject"] == "Un clic pour recevoir Lettre du Cerdd !"


def test_digest_serve_behind_a_proxy_logs_the_forwarded_ip(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """`digest serve --proxy-headers` as started from a shell, the client IP from the proxy."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # uvicorn binds it again (SO_REUSEADDR): a short, harmless race on loopback
    config = write_config(tmp_path, f"http://127.0.0.1:{port}")
    env = {
        **os.environ,
        "DIGEST_SECRET": KEYS.signing.decode(),
        "DIGEST_SMTP_URL": smtp_server.url,
    }
    command = [sys.executable, "-m", "digest", "--config", str(config), "serve", "--port",
               str(port), "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, server)
        with httpx.Client(base_url=url, headers={"X-Forwarded-For": "203.0.113.7"}) as client:
            assert subscribe(client, "proxied@example.org").status_code == 200
        smtp_server.wait_for(1)
    finally:
        server.terminate()
        server.wait(10)
    with Store(tmp_path / "digest.db") as store:
        found = store.subscriber_by_email("proxied@example.org")
        assert found is not None
        assert [r.ip for r in store.consent_log(found.id)] == ["203.0.113.7"]


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(server.stderr.read().decode() if server.stderr else "exited")
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("digest serve did not answer")


def test_oversized_bodies_are_refused(site: RunningSite, client: httpx.Client) -> None:
    big = {"email": "big@example.org", "website": "x" * 20_000}
    announced = client.post("/subscribe", data=big)
    assert announced.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is streamed
        yield b"email=big%40example.org&website="
        yield from (b"x" * 4096 for _ in range(8))

    streamed = client.post(
        "/subscribe",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    assert "content-security-policy" in streamed.headers
    assert subscriber(site, "big@example.org") is None


def test_a_refused_address_is_shown_back_escaped(client: httpx.Client) -> None:
    answer = subscribe(client, '"><script>alert(1)</script>')
    assert answer.status_code == 400
    assert "<script>alert(1)</script>" not in answer.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in answer.text


def test_a_restored_backup_never_gives_an_old_link_to_someone_else(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    # The audit's case: a backup, then Léa subscribes and is mailed a confirm link, then the
    # backup is restored (Léa's row is lost) and Jean subscribes. Léa's link must not
    # confirm Jean: a new id is never one given before the restore.
    clock = Clock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    with running_site(tmp_path, smtp_server.url, clock=clock) as site:
        store_path = site.config.store
        with httpx.Client(base_url=site.url) as client:
            subscribe(client, "first@example.org")  # the store has a row before the backup
            first_link = link_in(
                smtp_server.wait_for(1)[0].message.get_content(), site.url, "confirm"
            )
            # Ids from the clock are long: the links still work.
            assert client.get(first_link).status_code == 200
            client.post(first_link)
            first = subscriber(site, "first@example.org")
            assert first is not None and first.status == "confirmed" and first.id > 10**9
            backup = tmp_path / "backup.db"
            with Store(store_path) as store:
                store.db.execute(f"VACUUM INTO '{backup}'")
            clock.advance(minutes=5)
            subscribe(client, "lea@example.org")
            lea_link = link_in(
                smtp_server.wait_for(2)[-1].message.get_content(), site.url, "confirm"
            )
            lea = subscriber(site, "lea@example.org")
            lea_link = lea_link.removeprefix(site.url)  # the next site has another port
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    backup.rename(store_path)  # restored, as docs/operations.md says: Léa's row is gone
    clock.advance(minutes=5)
    with (
        running_site(tmp_path, smtp_server.url, clock=clock) as site,
        httpx.Client(base_url=site.url) as client,
    ):
        subscribe(client, "jean@example.org")
        jean = subscriber(site, "jean@example.org")
        assert lea is not None and jean is not None and jean.id > lea.id
        assert client.get(lea_link).status_code == 410  # Léa is no one now
        client.post(lea_link)
        jean = subscriber(site, "jean@example.org")
    assert jean is not None and jean.status == "pending"


@contextmanager
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """Every ERROR the site and uvicorn log meanwhile. uvicorn's loggers do not propagate to
    the root logger (its own logging config), so caplog alone never sees them."""
    handler = _Keep(logging.ERROR)
    # "uvicorn.error" (where uvicorn logs "Exception in ASGI application") propagates to
    # "uvicorn", which uvicorn stops from propagating further.
    loggers = [logging.getLogger(name) for name in ("uvicorn", "digest.web")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


class _Keep(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_error_capture_sees_what_uvicorn_logs() -> None:
    with server_errors() as errors:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application")
        logging.getLogger("digest.web").error("the mailer gave up")
        logging.getLogger("uvicorn.error").warning("a warning is not an error")
    assert [r.getMessage() for r in errors] == [
        "Exception in ASGI application",
        "the mailer gave up",
    ]


def test_a_client_leaving_mid_form_is_no_server_error(site: RunningSite) -> None:
    host, port = site.url.removeprefix("http://").split(":")
    with server_errors() as errors:
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(
                b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
                b"urlencoded\r\nContent-Length: 100\r\n\r\nemail="
            )
            time.sleep(0.2)  # the handler is reading the form when the client goes
        time.sleep(0.5)
        assert httpx.get(site.url + "/").status_code == 200  # the site still answers
    assert errors == [], [r.getMessage() for r in errors]


def test_the_per_ip_limit_counts_an_ipv6_host_by_its_64() -> None:
    assert limit_key("2001:db8:1:2::1") == limit_key("2001:db8:1:2:ffff::14")
    assert limit_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("::ffff:192.0.2.7") == "192.0.2.7" == limit_key("192.0.2.7")
    assert limit_key("unknown") == "unknown"


def test_confirming_sends_a_welcome_with_the_schedule_and_the_latest_issue(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    with Store(site.config.store) as store:
        store.save_issue(
            _issue("2023-W19", datetime(2023, 5, 8, tzinfo=PARIS), datetime(2023, 5, 15), "x")
        )
        store.set_issue_status("2023-W19", "sent")
    subscribe(client, "lea@example.org")
    link = link_in(smtp_server.wait_for(1)[0].message.get_content(), site.url, "confirm")
    assert len(smtp_server.messages) == 1  # showing the page (GET) sends nothing
    client.get(link)
    client.post(link)
    welcome = smtp_server.wait_for(2)[1].message
    body = welcome.get_content()
    assert (
        welcome["Subject"] == "Bienvenue dans Lettre du Cerdd"
        and welcome["To"] == "lea@example.org"
    )
    assert "chaque lundi, à partir de 9\u00a0h" in body  # the schedule's defaults
    assert f"{site.url}/archives/2023-W19/" in body
    leave = link_in(body, site.url, "unsubscribe")
    assert "l•••@example.org" in client.get(link_in(body, site.url, "preferences")).text
    client.post(link)  # confirming again sends no second welcome
    assert "l•••@example.org" in client.get(leave).text
    client.post(leave)
    again = client.get(leave).text
    assert "Déjà désinscrit·e" in again and 'action="/subscribe"' in again
    assert subscriber(site, "lea@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    assert len(smtp_server.messages) == 2


def test_staff_adding_a_pending_address_sends_no_welcome(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    """A welcome is owed only after confirming on the site; a status change by staff
    clears an email owed for the old status."""
    subscribe(client, "staff@example.org")
    smtp_server.wait_for(1)
    with Store(site.config.store) as store:
        found = store.subscriber_by_email("staff@example.org")
        assert found is not None
        store.owe_confirmation(found.id, site.clock())  # as if a second request came
        store.change_status(
            found.id, "confirmed", ("pending",), site.clock(), event="add", source="staff"
        )
        assert store.next_confirmation_at() is None
