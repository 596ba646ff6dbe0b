"""The console's sign-in and dashboard in headless Chromium: axe-core finds nothing serious,
the keyboard alone signs in, and the pages work with the CSP enforced (no script at all)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.console_support import EMAIL, PASSWORD, add_staff, store_issue
from tests.site_look import axe_violations, context
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite, running_site

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url) as running:
        add_staff(running)
        failing = {"name": "Flux <b>gras</b>", "status": "error", "items": 0, "error": "HTTP 503"}
        store_issue(running, "2026-W18", [failing], "sent")
        store_issue(running, "2026-W19", [failing])
        yield running


def _keyboard_sign_in(page: Page, site: RunningSite) -> None:
    """Tab to each field from the top of the page, type, then Enter: no mouse."""
    page.goto(site.url + "/admin/", wait_until="load")
    assert page.url.startswith(site.url + "/admin/login")
    page.locator("body").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    assert page.evaluate("document.activeElement.type") == "email"
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/admin/")


def test_the_keyboard_alone_signs_in_and_out(browser: Browser, site: RunningSite) -> None:
    ctx = browser.new_context()  # the CSP enforced: the console needs no script
    page = ctx.new_page()
    _keyboard_sign_in(page, site)
    assert page.locator("h1").inner_text() == "Tableau de bord"
    assert page.get_by_text("Flux <b>gras</b>").is_visible()  # text, not markup
    sign_out = page.get_by_role("button", name="Se déconnecter (Camille)")
    sign_out.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/admin/login?out=1")
    assert page.get_by_role("status").inner_text() == "Vous êtes déconnecté·e."
    ctx.close()


def _axe(ctx: BrowserContext, url: str) -> list[dict[str, object]]:
    page = ctx.new_page()
    page.goto(url, wait_until="load")
    found = axe_violations(page)
    page.close()
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_the_console(
    browser: Browser, site: RunningSite, scheme: str
) -> None:
    ctx = context(browser, 1024, scheme)  # CSP bypassed only to inject axe
    found = {"login": _axe(ctx, site.url + "/admin/login")}
    page = ctx.new_page()
    page.goto(site.url + "/admin/login", wait_until="load")
    page.fill("#email", EMAIL)
    page.fill("#password", "wrong password here")
    page.press("#password", "Enter")
    page.wait_for_selector(".error-summary")
    found["login-error"] = axe_violations(page)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(site.url + "/admin/")
    found["dashboard"] = axe_violations(page)
    page.close()
    ctx.close()
    assert found == {"login": [], "login-error": [], "dashboard": []}
