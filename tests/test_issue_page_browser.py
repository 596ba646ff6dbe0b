"""The console's issue page in headless Chromium against real parts (uvicorn, SQLite, the
loopback feed server): pin, exclude, edit the edito and subject, and see the framed email
change, with the CSP enforced (no script anywhere); axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console_support import EMAIL, PASSWORD
from tests.http_server import FeedServer
from tests.issue_support import HOSTILE, WEEK, issue_site, overrides_path
from tests.site_look import axe_violations, context
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with issue_site(tmp_path, feed_server, smtp_server.url) as running:
        yield running


def _open_issue(page: Page, site: RunningSite) -> None:
    page.goto(site.url + "/admin/", wait_until="load")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(site.url + "/admin/")
    page.get_by_role("link", name="du 4 au 10 mai 2026", exact=False).first.click()
    page.wait_for_url(f"{site.url}/admin/issues/{WEEK}")


def test_staff_pin_exclude_and_write_the_edito_and_see_the_email_change(
    browser: Browser, site: RunningSite
) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # CSP enforced
    page = ctx.new_page()
    _open_issue(page, site)
    email = page.frame_locator("iframe")
    assert page.get_by_text(HOSTILE).first.is_visible()  # a title, as text
    page.get_by_role("button", name="Épingler : Vélo partagé à Arras").click()
    page.wait_for_selector("#done")
    assert "épinglé" in page.locator("#done").inner_text()
    featured = page.locator("h3", has_text="À la une")
    assert featured.is_visible()
    expect(email.locator("body")).to_contain_text("Vélo partagé")
    page.get_by_role("button", name=f"Exclure : {HOSTILE}").click()
    page.wait_for_selector("#done")
    expect(email.locator("body")).not_to_contain_text("alert(1)")
    assert page.get_by_role("button", name="Réintégrer", exact=False).is_visible()
    page.fill("#subject", "Au fil des rivières")
    page.fill("#edito", "Bonjour **à toutes et à tous**, voici la semaine.")
    page.get_by_role("button", name="Prévisualiser", exact=False).click()
    assert page.locator(".edito-body strong").inner_text() == "à toutes et à tous"
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_selector("#done")
    expect(email.locator("body")).to_contain_text("voici la semaine")
    page.get_by_role("link", name="Mobile (375 px)").click()
    expect(page.locator("iframe")).to_have_attribute("width", "375")
    written = overrides_path(site).read_text(encoding="utf-8")
    assert "subject: Au fil des rivières" in written and "à toutes et à tous" in written
    ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_the_issue_page(
    browser: Browser, site: RunningSite, scheme: str
) -> None:
    ctx = context(browser, 1400, scheme)  # CSP bypassed only to inject axe
    page = ctx.new_page()
    _open_issue(page, site)
    page.get_by_role("button", name="Épingler : Vélo partagé à Arras").click()
    page.wait_for_selector("#done")
    found = {"issue": axe_violations(page)}
    page.goto(f"{site.url}/admin/issues/{WEEK}?view=text", wait_until="load")
    found["text"] = axe_violations(page)
    ctx.close()
    assert found == {"issue": [], "text": []}


def test_the_keyboard_alone_pins_an_item(browser: Browser, site: RunningSite) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    _open_issue(page, site)
    page.locator("body").focus()
    wanted = "Épingler : Vélo partagé à Arras"
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == wanted:
            break
    assert page.evaluate("document.activeElement.textContent") == wanted
    page.keyboard.press("Enter")
    page.wait_for_selector("#done")
    expect(page.locator("h3", has_text="À la une")).to_be_visible()
    ctx.close()
