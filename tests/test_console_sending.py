"""The console's "Envoyer un test", "Approuver" and "Rapport" pages against a real uvicorn on
127.0.0.1, a real SQLite store and a real aiosmtpd server: the same library calls as
`digest send --to`, `digest approve` and `digest report`, CSRF on every POST, the audit log."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from digest.store import Store
from digest.store.outbox import Outcome
from tests.console_sending_support import (
    BUSY,
    DUE,
    GONE,
    LATE,
    QUICK,
    audit,
    deliver,
    given_up_site,
    sending_site,
    signed_in_client,
)
from tests.console_support import EMAIL, hidden
from tests.deliver_support import ISSUE, SUBJECT, add_subscribers, store_issue
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite

BASE = f"/admin/issues/{ISSUE}"


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with sending_site(tmp_path, smtp_server) as running:
        yield running


@pytest.fixture
def client(site: RunningSite) -> Iterator[httpx.Client]:
    with signed_in_client(site) as c:
        yield c


def _status(site: RunningSite) -> str:
    with Store(site.config.store) as store:
        issue = store.issue(ISSUE)
    assert issue is not None
    return issue.status


def plain(page: httpx.Response) -> str:
    """The page's text with ordinary spaces and apostrophes (the site's French typography
    puts no-break spaces before : and inside « », and curly apostrophes)."""
    return page.text.replace("\u202f", " ").replace("\u00a0", " ").replace("\u2019", "'")


def _actions_since_sign_in(site: RunningSite) -> list[str]:
    actions = [a for a, _, _ in audit(site)]
    return actions[actions.index("sign_in") + 1 :]


def _post(client: httpx.Client, path: str, **form: str) -> httpx.Response:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": hidden(page.text, "csrf"), **form})


# -- Envoyer un test ----------------------------------------------------------------------


def test_a_test_copy_reaches_the_staff_member_with_test_in_its_subject(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    page = client.get(f"{BASE}/test")
    assert EMAIL in page.text  # the signed-in address is offered
    answer = _post(client, f"{BASE}/test", addresses=EMAIL)
    assert answer.status_code == 200
    assert f"Envoyé à {EMAIL}" in answer.text
    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == (EMAIL,)
    assert received.message["Subject"] == f"[TEST] {SUBJECT}"
    assert _status(site) == "built"  # a test changes nothing
    with Store(site.config.store) as store:
        assert store.audience(ISSUE) == 0
    assert audit(site)[-1] == ("test_sent", ISSUE, {"sent": [EMAIL], "refused": {}})


def test_a_test_to_a_short_list_says_what_the_relay_refused(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    smtp_server.script.rcpt["gone@example.org"] = "550 5.1.1 No such user"
    typed = "Lea@Example.org, gone@example.org\nlea@example.org"
    answer = _post(client, f"{BASE}/test", addresses=typed)
    assert answer.status_code == 200
    assert "Envoyé à lea@example.org" in answer.text
    assert "Non envoyé à gone@example.org" in answer.text
    assert "550 5.1.1 No such user" in answer.text
    assert "SMTPRecipientsRefused" not in answer.text and "b&#39;" not in answer.text
    assert [m.rcpt_tos for m in smtp_server.messages] == [("lea@example.org",)]
    action, _, details = audit(site)[-1]
    assert action == "test_sent" and details["sent"] == ["lea@example.org"]
    assert list(details["refused"]) == ["gone@example.org"]  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("", "Indiquez au moins une adresse."),
        ("not-an-address", "« not-an-address » n'est pas une adresse e-mail valide."),
        (" ".join(f"r{n}@example.org" for n in range(11)), "11 adresses, c'est trop"),
    ],
)
def test_a_test_to_bad_addresses_sends_nothing(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer, typed: str, said: str
) -> None:
    answer = _post(client, f"{BASE}/test", addresses=typed)
    assert answer.status_code == 400
    assert said in plain(answer)
    assert smtp_server.messages == []
    assert _actions_since_sign_in(site) == []


def test_console_posts_without_their_csrf_token_change_nothing(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    for path, form in ((f"{BASE}/test", {"addresses": EMAIL}), (f"{BASE}/approve", {})):
        for token in (None, "", "forged"):
            data = form if token is None else {**form, "csrf": token}
            assert client.post(path, data=data).status_code == 403
    assert smtp_server.messages == []
    assert _status(site) == "built"
    assert _actions_since_sign_in(site) == []


def test_head_and_get_change_nothing_even_signed_in(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    token = hidden(client.get(f"{BASE}/test").text, "csrf")
    for page in ("test", "approve", "report", "report.csv"):
        form = {"csrf": token, "addresses": EMAIL}
        assert client.request("HEAD", f"{BASE}/{page}", data=form).status_code == 200
    for page in ("test", "approve", "report"):
        assert client.get(f"{BASE}/{page}", params={"csrf": token, "addresses": EMAIL}).is_success
    assert smtp_server.messages == [] and _status(site) == "built"
    assert _actions_since_sign_in(site) == []


def test_an_unknown_issue_is_a_404_page(client: httpx.Client) -> None:
    for page in ("test", "approve", "report", "report.csv"):
        answer = client.get(f"/admin/issues/2031-W01/{page}")
        assert answer.status_code == 404
        assert "Aucune lettre 2031-W01" in answer.text


# -- Approuver -----------------------------------------------------------------------------


def test_approving_is_digest_approve(site: RunningSite, client: httpx.Client) -> None:
    page = client.get(f"{BASE}/approve")
    assert "Elle peut être approuvée" in page.text
    answer = _post(client, f"{BASE}/approve")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{BASE}/approve?done=1"
    assert _status(site) == "approved"
    done = client.get(answer.headers["location"])
    assert "Lettre approuvée" in done.text and "Elle est approuvée" in done.text
    assert 'name="csrf"' in done.text and "Approuver 2023-W19</button>" not in done.text
    action, issue, details = audit(site)[-1]
    assert (action, issue) == ("approved", ISSUE)
    assert "approuvée" in str(details["message"])


def test_an_approval_past_the_deadline_is_refused_and_says_why(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with sending_site(tmp_path, smtp_server, now=LATE) as site, signed_in_client(site) as c:
        page = c.get(f"{BASE}/approve")
        assert "Elle ne peut pas être approuvée" in page.text
        assert "Approuver 2023-W19</button>" not in page.text
        # A form loaded in time and sent once the deadline is gone gets the library's no.
        answer = c.post(f"{BASE}/approve", data={"csrf": hidden(page.text, "csrf")})
        assert answer.status_code == 409
        text = plain(answer)
        assert "L'approbation a été refusée" in text
        assert "Sa date limite d'envoi (mercredi 17 mai 2023 à 09:00) est passée" in text
        assert _status(site) == "built"
        action, _, details = audit(site)[-1]
        assert action == "approve_refused" and "date limite" in str(details["reason"])


def test_a_thin_issue_says_why_it_cannot_be_approved(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    extra = QUICK + "schedule:\n  min_items: 40\n"
    with sending_site(tmp_path, smtp_server, extra=extra) as site, signed_in_client(site) as c:
        page = c.get(f"{BASE}/approve")
        assert "Elle ne peut pas être approuvée" in page.text
        assert "il en faut au moins 40" in page.text
        assert "Approuver 2023-W19</button>" not in page.text
        answer = c.post(f"{BASE}/approve", data={"csrf": hidden(page.text, "csrf")})
        assert answer.status_code == 409 and "il en faut au moins 40" in answer.text
        assert _status(site) == "built"


# -- progress and report -------------------------------------------------------------------


def _half_sent(site: RunningSite) -> None:
    """An issue whose send is under way: audience frozen, two rows sent, one deferred."""
    with Store(site.config.store) as store:
        store.set_issue_status(ISSUE, "approved")
        store.freeze_audience(ISSUE, "example.org", DUE)
        ids = [r[0] for r in store.db.execute("SELECT subscriber_id FROM outbox ORDER BY 1")]
        store.record(
            ISSUE,
            [Outcome(ids[0], "sent"), Outcome(ids[1], "sent"),
             Outcome(ids[2], "deferred", "451 4.3.0 Try again later", next_attempt_at=DUE)],
            DUE,
        )  # fmt: skip


def test_a_send_under_way_shows_its_progress_and_reloads(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    _half_sent(site)
    for page in ("approve", "report"):
        answer = client.get(f"{BASE}/{page}")
        assert 'src="/static/progress.js"' in answer.text and 'data-refresh="15"' in answer.text
        assert "2 envoyés sur 5" in plain(answer)
        assert '<progress id="sent-bar" max="5" value="2">' in answer.text
        still = client.get(f"{BASE}/{page}?still=1")
        assert "progress.js" not in still.text and "data-refresh" not in still.text
        assert "Reprendre la mise à jour" in still.text
    assert deliver(site, smtp_server).done
    done = client.get(f"{BASE}/report")
    assert "data-refresh" not in done.text and "5 envoyés sur 5" in plain(done)


def test_the_report_filters_the_recipients_and_says_why_in_plain_words(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    smtp_server.script.rcpt["user00001@example.org"] = "550 5.1.1 <user00001@example.org> unknown"
    smtp_server.script.rcpt["user00002@example.org"] = "451 4.3.0 Try again later"
    figures = deliver(site, smtp_server)
    assert (figures.sent, figures.deferred, figures.failed) == (3, 1, 1)
    every = client.get(f"{BASE}/report")
    assert every.status_code == 200
    assert "5 adresses" in every.text
    bounced = client.get(f"{BASE}/report", params={"shown": "bounced"})
    assert "user00001@example.org" in bounced.text and "user00000@" not in bounced.text
    assert "Adresse rejetée définitivement" in bounced.text
    deferred = client.get(f"{BASE}/report", params={"shown": "deferred"})
    assert "user00002@example.org" in deferred.text and "réessayée automatiquement" in deferred.text
    sent = client.get(f"{BASE}/report", params={"shown": "sent"})
    assert sent.text.count("Acceptée par le serveur de courrier.") == 3


def test_the_csv_export_is_the_report_s_and_guards_formulas(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    deliver(site, smtp_server)
    with Store(site.config.store) as store:
        (first,) = store.db.execute("SELECT MIN(subscriber_id) FROM outbox").fetchone()
        store.record(ISSUE, [Outcome(first, "failed", '=HYPERLINK("http://x","y")')], DUE)
    answer = client.get(f"{BASE}/report.csv")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 5 and {r["status"] for r in rows} == {"sent", "failed"}
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["last_error"].startswith("'=HYPERLINK")
    only = client.get(f"{BASE}/report.csv", params={"shown": "failed"})
    assert [r["email"] for r in csv.DictReader(io.StringIO(only.text))] == [failed["email"]]
    assert client.head(f"{BASE}/report.csv").status_code == 200
    exports = [d for a, _, d in audit(site) if a == "report_exported"]
    assert exports == [{"shown": "all"}, {"shown": "failed"}]  # HEAD is not an export


def test_feed_and_server_text_shows_as_text(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    deliver(site, smtp_server)
    with Store(site.config.store) as store:
        (first,) = store.db.execute("SELECT MIN(subscriber_id) FROM outbox").fetchone()
        store.record(ISSUE, [Outcome(first, "failed", "550 <script>alert(1)</script>")], DUE)
    page = client.get(f"{BASE}/report", params={"shown": "failed"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_dashboard_links_the_pages(site: RunningSite, client: httpx.Client) -> None:
    board = client.get("/admin/")
    for page in ("test", "approve", "report"):
        assert f'href="{BASE}/{page}"' in board.text


def test_a_long_report_comes_in_pages_and_the_csv_has_every_row(
    site: RunningSite, client: httpx.Client
) -> None:
    with Store(site.config.store) as store:
        add_subscribers(store, 145, start=100)
        store.set_issue_status(ISSUE, "approved")
        store.freeze_audience(ISSUE, "example.org", DUE)
    first = client.get(f"{BASE}/report")
    assert "150 adresses" in plain(first) and "Page 1 sur 2" in first.text
    assert first.text.count("<tr>") == 101  # the header row and 100 addresses
    second = client.get(f"{BASE}/report", params={"page": "2"})
    assert second.text.count("<tr>") == 51 and "user00244@example.org" in second.text
    assert client.get(f"{BASE}/report", params={"page": "99"}).text.count("<tr>") == 51
    rows = list(csv.DictReader(io.StringIO(client.get(f"{BASE}/report.csv").text)))
    assert len(rows) == 150 and {r["status"] for r in rows} == {"pending"}


def test_readers_skipped_for_their_themes_have_their_own_filter(
    site: RunningSite, client: httpx.Client
) -> None:
    """A reader whose themes had too little this week (issue 14) is neither sent nor failed:
    the report says so in plain words and filters them."""
    with Store(site.config.store) as store:
        first = store.db.execute("SELECT MIN(id) FROM subscribers").fetchone()[0]
        store.db.execute("UPDATE subscribers SET themes = 'climat' WHERE id = ?", (first,))
        store.db.commit()
        store.set_issue_status(ISSUE, "approved")
        why = "skipped: nothing for your themes this week"
        store.freeze_audience(ISSUE, "example.org", DUE, {"climat": "climat"}, {"climat": why})
    page = client.get(f"{BASE}/report?shown=skipped")
    assert page.status_code == 200
    assert "Rien pour ses thèmes cette semaine" in plain(page)
    rows = page.text.count("<tr") - 1  # less the header row
    assert rows == 1, page.text
    everyone = client.get(f"{BASE}/report")
    assert everyone.text.count("<tr") - 1 > 1


# -- Relancer les échecs ----------------------------------------------------------------


def test_the_report_retries_what_was_given_up_and_says_when_it_leaves(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with given_up_site(tmp_path, smtp_server) as site, signed_in_client(site) as client:
        page = client.get(f"{BASE}/report")
        assert "Relancer les échecs</button>" in page.text
        assert "Adresses abandonnées, que l'on peut relancer : 1." in plain(page)
        given_up = client.get(f"{BASE}/report", params={"shown": "gave_up"})
        assert BUSY in given_up.text and GONE not in given_up.text
        token = hidden(page.text, "csrf")
        answer = client.post(f"{BASE}/retry", data={"csrf": token})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{BASE}/report?retried=1"
        after = client.get(answer.headers["location"])
        assert "1 adresse remise en file : départ au prochain `digest run`." in plain(after)
        assert "Relancer les échecs</button>" not in after.text  # nothing left to retry
        assert "data-refresh" in after.text  # the issue is being sent again: followed live
        assert _status(site) == "sending"
        assert audit(site)[-1] == ("failures_retried", ISSUE, {"count": 1})
        history = client.get(BASE)
        assert "a relancé les échecs (adresses remises en file : 1)" in plain(history)
        again = client.post(f"{BASE}/retry", data={"csrf": token}, follow_redirects=True)
        assert "Rien à relancer" in plain(again)
        assert deliver(site, smtp_server).done  # what `digest run` calls
        (resent,) = smtp_server.messages[3:]
        assert resent.rcpt_tos == (BUSY,)
        assert _status(site) == "sent"


def test_a_retry_without_its_csrf_token_or_of_an_unsent_issue_changes_nothing(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with given_up_site(tmp_path, smtp_server) as site, signed_in_client(site) as client:
        for data in ({}, {"csrf": ""}, {"csrf": "forged"}):
            assert client.post(f"{BASE}/retry", data=data).status_code == 403
        assert _status(site) == "sent" and _actions_since_sign_in(site) == []
        with Store(site.config.store) as store:
            store_issue(store, "approved", issue_id="2023-W21")
        page = client.get("/admin/issues/2023-W21/report")
        assert "Relancer les échecs</button>" not in page.text
        refused = client.post(
            "/admin/issues/2023-W21/retry", data={"csrf": hidden(page.text, "csrf")}
        )
        assert refused.status_code == 409
        assert "2023-W21 n&#39;est jamais partie" in plain(refused)
        assert client.post("/admin/issues/2023-W40/retry", data={"csrf": ""}).status_code == 403


def test_a_report_with_nothing_given_up_offers_no_retry(
    site: RunningSite, client: httpx.Client, smtp_server: SmtpServer
) -> None:
    smtp_server.script.rcpt["user00001@example.org"] = "550 5.1.1 No such user"
    smtp_server.script.rcpt["user00002@example.org"] = "552 5.2.2 Mailbox full"
    deliver(site, smtp_server)
    page = client.get(f"{BASE}/report")
    assert page.status_code == 200 and "Relancer les échecs" not in page.text
