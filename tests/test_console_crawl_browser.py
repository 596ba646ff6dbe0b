"""axe-core on every console page, found as staff find them: signed in, the test follows every
/admin/ link from the dashboard, page after page, and runs axe on each in the light and the
dark scheme, then on an import's preview (a form's answer, which no link reaches). The
console is the Cerdd's week as shipped (tests/weekly_support.py), its issue sent by a real
`digest run`, so every page shows real content. The crawl must reach each kind of page the
console has: a page that disappears, or a link to it that does, fails the test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from digest.store import Store
from digest.store.outbox import Outcome
from tests.console_sending_support import digest_run
from tests.console_support import EMAIL, PASSWORD
from tests.http_server import FeedServer
from tests.site_look import axe_violations, context
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite
from tests.weekly_support import WEEK, weekly_site

pytestmark = pytest.mark.browser

ISSUE = r"/admin/issues/\d{4}-W\d{2}"
KINDS = {  # each kind of console page, by the shape of its path
    "dashboard": r"/admin/",
    "issue": ISSUE,
    "test": ISSUE + "/test",
    "approve": ISSUE + "/approve",
    "report": ISSUE + "/report",
    "subscribers": r"/admin/subscribers",
    "subscriber": r"/admin/subscribers/\d+",
    "erase": r"/admin/subscribers/\d+/erase",
    "sources": r"/admin/sources",
}
GIVEN_UP = "user00002@example.org"
MOST_PAGES = 60  # a bound, so that a link that breeds links cannot run the test for ever
IMPORT = "email;nom\nnouvelle@example.org;Nouvelle\nnope;\n"


def kind(url: str, site: RunningSite) -> str:
    path = url.removeprefix(site.url).partition("?")[0]
    found = [name for name, shape in KINDS.items() if re.fullmatch(shape, path)]
    assert found, f"{path}: a console page of no known kind (add it to KINDS)"
    return found[0]


def links(page: Page, site: RunningSite) -> list[str]:
    """The page's links into the console (not downloads), without their fragment."""
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "found => found.map(a => a.href)")
    inside = (h.partition("#")[0] for h in hrefs if h.startswith(site.url + "/admin/"))
    return [h for h in inside if ".csv" not in h]


def axe_both(page: Page) -> dict[str, list[dict[str, Any]]]:
    """axe's serious and critical findings on the page as shown, in each scheme."""
    found = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        found[scheme] = axe_violations(page)
    return found


def crawl(page: Page, site: RunningSite) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every console page reachable by links from where `page` is, with axe's findings."""
    waiting, found = [page.url], {}
    while waiting and len(found) < MOST_PAGES:
        url = waiting.pop(0)
        if url in found:
            continue
        answer = page.goto(url, wait_until="load")
        assert answer is not None and answer.ok, url
        found[url] = axe_both(page)
        waiting += [link for link in links(page, site) if link not in found]
    assert not waiting, f"more than {MOST_PAGES} console pages: {waiting[:5]}"
    return found


def sent_week(site: RunningSite, smtp: SmtpServer) -> None:
    """Cron builds the week's issue, staff approve it, cron sends it; one reader's server
    refused it for now until the retry deadline passed (given up), so that the report
    offers « Relancer les échecs » and axe checks it."""
    assert digest_run(site, smtp, offline=False).returncode == 0
    with Store(site.config.store) as store:
        store.set_issue_status(WEEK, "approved")
    smtp.script.rcpt[GIVEN_UP] = "451 4.3.0 Try again later"
    assert digest_run(site, smtp).returncode == 0
    with Store(site.config.store) as store:
        reader = store.subscriber_by_email(GIVEN_UP)
        assert reader is not None
        why = "gave up after 5 attempts: 451 4.3.0 Try again later"
        store.record(WEEK, [Outcome(reader.id, "failed", why, gave_up=True)], site.clock())
        assert store.finish_issue(WEEK)


def import_preview(page: Page, site: RunningSite, folder: Path) -> dict[str, Any]:
    page.goto(site.url + "/admin/subscribers", wait_until="load")
    (folder / "liste.csv").write_text(IMPORT, encoding="utf-8")
    page.set_input_files("#import-file", str(folder / "liste.csv"))
    page.get_by_role("button", name="Voir l’aperçu").click()
    page.wait_for_selector(".problems")
    return axe_both(page)


def test_axe_finds_nothing_serious_on_any_console_page_in_either_scheme(
    browser: Browser, tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    with weekly_site(tmp_path, feed_server, smtp_server.url) as site:
        sent_week(site, smtp_server)
        ctx = context(browser, 1024)  # CSP bypassed only to inject axe
        page = ctx.new_page()
        page.goto(site.url + "/admin/", wait_until="load")
        found = {"login": axe_both(page)}
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_url(site.url + "/admin/")
        found.update(crawl(page, site))
        page.goto(site.url + f"/admin/issues/{WEEK}/report", wait_until="load")
        assert page.get_by_role("button", name="Relancer les échecs").count() == 1  # crawled
        reached = {kind(url, site) for url in found if url != "login"}
        found["import-preview"] = import_preview(page, site, tmp_path)
        ctx.close()
    assert reached == set(KINDS)
    clean = {"light": [], "dark": []}
    assert {page: clean for page in found} == found
