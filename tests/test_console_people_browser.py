"""The console's "Abonnés" and "Sources" pages in headless Chromium, as staff use them: with
the CSP enforced (no script at all), search, add, import (preview, then apply), export,
erase after the confirmation page, and test a source on the loopback feed server; and
axe-core finds nothing serious or critical on any of these pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from digest.store import Store
from tests.console_support import EMAIL, PASSWORD
from tests.http_server import FeedServer
from tests.people_support import GOOD_FEED, add_people, pending, people_site, statuses
from tests.site_look import axe_violations, context, tab_to
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert(1)</script>"
CSV = "email;nom;themes\nnouvelle@example.org;Nouvelle;climat\nattente@example.org;;\nnope;;\n"


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer, feed_server: FeedServer) -> Iterator[RunningSite]:
    with people_site(tmp_path, smtp_server.url, feed_server.base) as running:
        add_people(running, [("camille@mairie.example.org", "Camille Martin", ("climat",))])
        pending(running, "attente@example.org")
        yield running


def _sign_in(page: Page, site: RunningSite, path: str = "/admin/subscribers") -> None:
    page.goto(site.url + path, wait_until="load")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(site.url + path)


def _say(page: Page, selector: str = "main") -> str:
    """The text shown, French typography's no-break spaces as plain ones."""
    return page.inner_text(selector).replace("\u202f", " ").replace("\u00a0", " ")


def test_staff_search_add_import_export_and_erase(
    browser: Browser, site: RunningSite, tmp_path: Path
) -> None:
    ctx = browser.new_context(accept_downloads=True)  # the CSP enforced
    page = ctx.new_page()
    _sign_in(page, site, "/admin/")
    page.get_by_role("link", name="Abonnés").click()
    page.wait_for_url(site.url + "/admin/subscribers")
    # Search
    page.fill("#q", "martin")
    page.get_by_role("button", name="Rechercher").click()
    assert "1 abonné trouvé" in _say(page)
    assert page.get_by_role("link", name="camille@mairie.example.org").is_visible()
    # Add, with a hostile name: shown as text on the subscriber's page
    page.fill("#add-email", "Lea@Example.org")
    page.fill("#add-name", HOSTILE)
    page.get_by_label("Énergie").check()
    page.get_by_role("button", name="Ajouter").click()
    page.wait_for_url("**/admin/subscribers/*?done=added")
    assert "lea@example.org est ajoutée, confirmée." in _say(page, ".notice")
    assert page.get_by_text(HOSTILE).is_visible()
    assert statuses(site)["lea@example.org"] == "confirmed"
    # Import: the preview writes nothing, the apply imports that file
    page.get_by_role("link", name="← Les abonnés").click()
    csv_file = tmp_path / "liste.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page.set_input_files("#import-file", str(csv_file))
    page.get_by_role("button", name="Voir l’aperçu").click()
    assert "Import de liste.csv : aperçu" in _say(page, "h1")
    assert "'nope'" in _say(page, ".problems")
    assert "nouvelle@example.org" not in statuses(site)
    page.get_by_role("button", name="Importer ce fichier").click()
    assert "Import de liste.csv : fait" in _say(page, "h1")
    found = statuses(site)
    assert (found["nouvelle@example.org"], found["attente@example.org"]) == ("confirmed",) * 2
    # Export: a spreadsheet-safe CSV download
    page.get_by_role("link", name="← Les abonnés").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Exporter en CSV").click()
    exported = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert exported.startswith("email;status;name;")
    assert "\nlea@example.org;confirmed;<script>alert(1)</script>;" in exported.replace("\r", "")
    # Erase, after the confirmation page
    page.get_by_role("link", name="lea@example.org").click()
    page.get_by_role("link", name="Effacer cet abonné…").click()
    assert "Effacer lea@example.org ?" in _say(page, "h1")
    assert statuses(site)["lea@example.org"] == "confirmed"
    page.get_by_role("button", name="Effacer définitivement").click()
    page.wait_for_url(site.url + "/admin/subscribers?done=erased")
    assert "empreinte anonyme" in _say(page, ".notice")
    assert "lea@example.org" not in statuses(site)
    ctx.close()


def test_staff_test_a_source_now(browser: Browser, site: RunningSite) -> None:
    ctx = browser.new_context()  # the CSP enforced
    page = ctx.new_page()
    _sign_in(page, site, "/admin/")
    page.get_by_role("link", name="Sources").first.click()
    page.wait_for_url(site.url + "/admin/sources")
    page.get_by_role("button", name=f"Tester maintenant : {GOOD_FEED}").click()
    result = _say(page, ".probe")
    title = page.locator("#probe-title").text_content() or ""
    assert title.replace("\u202f", " ") == f"Test de {GOOD_FEED}"  # text, not markup
    assert "articles trouvés (HTTP 200)" in result
    with Store(site.config.store) as store:
        assert store.fetch_times() == {} and store.issues() == []
    ctx.close()


def _axe(page: Page, name: str, found: dict[str, list[dict[str, object]]]) -> None:
    found[name] = axe_violations(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_these_pages(
    browser: Browser, site: RunningSite, tmp_path: Path, scheme: str
) -> None:
    add_people(site, [("x@example.org", HOSTILE, ("climat", "energie"))])
    ctx: BrowserContext = context(browser, 1024, scheme)  # CSP bypassed only to inject axe
    page = ctx.new_page()
    _sign_in(page, site)
    found: dict[str, list[dict[str, object]]] = {}
    _axe(page, "list", found)
    page.fill("#add-email", "lea@exemple")  # the browser takes it, email-validator not
    page.get_by_role("button", name="Ajouter").click()
    page.wait_for_selector(".error-summary")
    _axe(page, "list-error", found)
    page.get_by_role("link", name="x@example.org").click()
    _axe(page, "subscriber", found)
    page.get_by_role("link", name="Effacer cet abonné…").click()
    _axe(page, "erase", found)
    page.goto(site.url + "/admin/subscribers", wait_until="load")
    csv_file = tmp_path / "liste.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page.set_input_files("#import-file", str(csv_file))
    page.get_by_role("button", name="Voir l’aperçu").click()
    page.wait_for_selector(".problems")
    _axe(page, "import-preview", found)
    page.get_by_role("button", name="Importer ce fichier").click()
    page.wait_for_selector("h1")
    _axe(page, "import-done", found)
    page.goto(site.url + "/admin/sources", wait_until="load")
    _axe(page, "sources", found)
    page.get_by_role("button", name=f"Tester maintenant : {GOOD_FEED}").click()
    page.wait_for_selector(".probe")
    _axe(page, "source-tested", found)
    ctx.close()
    assert found == {name: [] for name in found}
    assert len(found) == 8


def test_the_keyboard_alone_searches_and_tests_a_source(
    browser: Browser, site: RunningSite
) -> None:
    ctx = browser.new_context()  # the CSP enforced
    page = ctx.new_page()
    _sign_in(page, site)
    tab_to(page, "e.id === 'q'")
    page.keyboard.type("martin")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/subscribers?q=martin*")
    assert "1 abonné trouvé" in _say(page)
    page.goto(site.url + "/admin/sources", wait_until="load")
    label = f"Tester maintenant : {GOOD_FEED}"
    tab_to(page, f"e.getAttribute('aria-label')?.replace(/[\\u202f\\u00a0]/g, ' ') === {label!r}")
    page.keyboard.press("Enter")
    page.wait_for_selector(".probe")
    assert "articles trouvés" in _say(page, ".probe")
    ctx.close()
