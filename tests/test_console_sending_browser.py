"""The console's test-send, approval and report pages in headless Chromium, as a
communications officer uses them: a real site, a real SQLite store, a real aiosmtpd server
and a real `digest run` process in between. No script on the pages (the CSP is enforced),
and axe-core finds nothing serious or critical on them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from digest.store import Store
from digest.store.outbox import Outcome
from digest.web import sending
from tests.console_sending_support import (
    BUSY,
    DUE,
    LATE,
    deliver,
    digest_run,
    given_up_site,
    sending_site,
)
from tests.console_support import EMAIL, PASSWORD
from tests.deliver_support import ISSUE, SUBJECT
from tests.site_look import axe_violations, context, tab_to
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite

pytestmark = pytest.mark.browser
BASE = f"/admin/issues/{ISSUE}"


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with sending_site(tmp_path, smtp_server) as running:
        yield running


def _signed_in(ctx: BrowserContext, site: RunningSite) -> Page:
    page = ctx.new_page()
    page.goto(site.url + "/admin/", wait_until="load")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(site.url + "/admin/")
    return page


def test_a_test_copy_sent_from_the_console_arrives_with_test_in_its_subject(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer
) -> None:
    ctx = browser.new_context()  # the CSP enforced
    page = _signed_in(ctx, site)
    page.get_by_role("link", name="Envoyer un test").click()
    page.wait_for_url(site.url + f"{BASE}/test")
    assert page.locator("#addresses").input_value() == EMAIL
    page.get_by_role("button", name="Envoyer le test").click()
    page.wait_for_selector(".results")
    assert f"Envoyé à {EMAIL}" in page.locator(".results").inner_text()
    (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == (EMAIL,)
    assert received.message["Subject"] == f"[TEST] {SUBJECT}"
    ctx.close()


def test_an_approval_a_guard_refuses_shows_why(
    browser: Browser, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    with sending_site(tmp_path, smtp_server, now=LATE) as site:
        ctx = browser.new_context()
        page = _signed_in(ctx, site)
        page.goto(site.url + f"{BASE}/approve", wait_until="load")
        refusal = page.locator(".refusal").inner_text()
        assert "Elle ne peut pas être approuvée" in refusal
        assert "date limite d’envoi" in refusal and "est passée" in refusal
        assert page.get_by_role("button", name=f"Approuver {ISSUE}").count() == 0
        ctx.close()


def test_approve_then_digest_run_then_the_report_filters_and_exports(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer
) -> None:
    smtp_server.script.rcpt["user00003@example.org"] = "550 5.1.1 No such user"
    ctx = browser.new_context(accept_downloads=True)
    page = _signed_in(ctx, site)
    page.get_by_role("link", name="Approuver").first.click()
    page.get_by_role("button", name=f"Approuver {ISSUE}").click()
    page.wait_for_url(site.url + f"{BASE}/approve?done=1")
    assert "Lettre approuvée" in page.get_by_role("status").inner_text()

    done = digest_run(site, smtp_server)  # cron, in its own process
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(smtp_server.wait_for(4)) == 4

    page.get_by_role("link", name="Rapport").first.click()
    page.wait_for_url(site.url + f"{BASE}/report")
    assert "4 envoyés sur 5" in page.locator(".progress").inner_text().replace("\u202f", " ")
    page.select_option("#shown", "bounced")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**shown=bounced**")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert "user00003@example.org" in rows.inner_text()
    assert "Adresse rejetée définitivement" in rows.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger en CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert [(r["email"], r["status"]) for r in exported] == [("user00003@example.org", "bounced")]
    ctx.close()


def test_the_keyboard_alone_sends_a_test_and_approves(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer
) -> None:
    """From the dashboard, Tab and Enter only: each link and button is reached in turn."""
    ctx = browser.new_context()  # the CSP enforced
    page = _signed_in(ctx, site)
    tab_to(page, "e.textContent === 'Envoyer un test'")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + f"{BASE}/test")
    tab_to(page, "e.textContent === 'Envoyer le test'")
    page.keyboard.press("Enter")
    page.wait_for_selector(".results")
    assert smtp_server.wait_for(1)[0].rcpt_tos == (EMAIL,)
    tab_to(page, "e.textContent === 'Approuver'")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + f"{BASE}/approve")
    tab_to(page, f"e.textContent.trim() === 'Approuver {ISSUE}'")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + f"{BASE}/approve?done=1")
    assert "Lettre approuvée" in page.get_by_role("status").inner_text()
    with Store(site.config.store) as store:
        issue = store.issue(ISSUE)
    assert issue is not None and issue.status == "approved"
    ctx.close()


def _sending(site: RunningSite) -> None:
    with Store(site.config.store) as store:
        store.set_issue_status(ISSUE, "approved")
        store.freeze_audience(ISSUE, "example.org", DUE)
        (first,) = store.db.execute("SELECT MIN(subscriber_id) FROM outbox").fetchone()
        store.record(ISSUE, [Outcome(first, "sent")], DUE)


def _axe(page: Page, url: str) -> list[dict[str, object]]:
    page.goto(url, wait_until="load")
    return axe_violations(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_the_sending_pages(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer, scheme: str
) -> None:
    ctx = context(browser, 1024, scheme)  # CSP bypassed only to inject axe
    page = _signed_in(ctx, site)
    found = {name: _axe(page, site.url + f"{BASE}/{name}") for name in ("test", "approve")}
    page.goto(site.url + f"{BASE}/test", wait_until="load")
    page.fill("#addresses", "lea@example.org, not-an-address")
    page.get_by_role("button", name="Envoyer le test").click()
    page.wait_for_selector(".error-summary")
    found["test-error"] = axe_violations(page)
    page.fill("#addresses", "lea@example.org")
    page.get_by_role("button", name="Envoyer le test").click()
    page.wait_for_selector(".results")
    found["test-sent"] = axe_violations(page)
    _sending(site)
    # While a send runs, a script refreshes the progress section in place (no page reload):
    # axe checks the pages as they refresh, and once staff stopped it.
    for name in ("approve", "report"):
        found[f"{name}-sending"] = _axe(page, site.url + f"{BASE}/{name}")
        found[f"{name}-stopped"] = _axe(page, site.url + f"{BASE}/{name}?still=1")
    page.select_option("#shown", "sent")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**shown=sent**")
    assert page.locator("#progress[data-refresh]").count() == 0  # still stopped
    found["report-filtered"] = axe_violations(page)
    ctx.close()
    assert found == {key: [] for key in found}


def test_the_progress_refreshes_in_place_while_a_send_runs(
    browser: Browser, site: RunningSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No page reload (axe's meta-refresh rule, a screen reader's place): the script fetches
    the page and swaps the progress section, which announces itself (aria-live)."""
    monkeypatch.setattr(sending, "REFRESH_SECONDS", 1)  # the site runs in this process
    _sending(site)
    ctx = context(browser, 1024)
    page = _signed_in(ctx, site)
    page.goto(site.url + f"{BASE}/report", wait_until="load")
    assert "1 envoyé sur" in page.locator("#progress").inner_text()
    page.evaluate("window.notReloaded = true")

    with Store(site.config.store) as store:
        ids = [r[0] for r in store.db.execute("SELECT subscriber_id FROM outbox ORDER BY 1")]
        store.record(ISSUE, [Outcome(i, "sent") for i in ids], DUE)
        store.set_issue_status(ISSUE, "sent")  # the run ended: the script stops too
    page.wait_for_function(
        "document.getElementById('progress').innerText.includes('5 envoyés sur 5')"
        " && !document.getElementById('progress').dataset.refresh",
        timeout=10_000,
    )
    assert page.evaluate("window.notReloaded") is True  # the same page, updated in place
    assert page.locator("#progress").get_attribute("aria-live") == "polite"
    ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_relancer_les_echecs_queues_the_given_up_and_the_page_says_so(
    browser: Browser, tmp_path: Path, smtp_server: SmtpServer, scheme: str
) -> None:
    """No script needed (a plain form); axe on the report with the button, then after it."""
    with given_up_site(tmp_path, smtp_server) as site:
        with Store(site.config.store) as store:
            busy = store.subscriber_by_email(BUSY)
            assert busy is not None
            message_id = store.outbox_message_id(ISSUE, busy.id)
        ctx = context(browser, 1024, scheme)  # CSP bypassed only to inject axe
        page = _signed_in(ctx, site)
        found = {"with-button": _axe(page, site.url + f"{BASE}/report")}
        heading = page.get_by_role("heading", name="Relancer les échecs")
        assert "que l’on peut relancer : 1." in _spaced(page.locator("section", has=heading))
        page.get_by_role("button", name="Relancer les échecs").click()
        page.wait_for_url("**/report?retried=1")
        said = _spaced(page.get_by_role("status").first)
        assert "1 adresse remise en file : départ au prochain `digest run`" in said
        assert page.get_by_role("button", name="Relancer les échecs").count() == 0
        assert page.get_by_role("heading", name="Envoi en cours").count() == 1  # followed live
        assert "À envoyer\n1" in page.locator("#progress").inner_text()
        found["retried"] = axe_violations(page)
        ctx.close()
        assert deliver(site, smtp_server).done  # what `digest run` calls
        (resent,) = smtp_server.messages[3:]
        assert resent.rcpt_tos == (BUSY,) and resent.message["Message-ID"] == message_id
    assert found == {key: [] for key in found}


def _spaced(found: Locator) -> str:
    """The text, with ordinary spaces for the French typography's no-break ones."""
    return found.inner_text().replace("\u202f", " ").replace("\u00a0", " ")
