"""The whole weekly job in headless Chromium, as the Cerdd's communications officer does it on a
Monday morning, with the mouse and keyboard only, against real parts: the shipped partners'
feeds on the loopback feed server, aiosmtpd, a SQLite file, the console under uvicorn, and
`digest run` in its own process, as cron runs it (the CSP enforced: no script on the pages).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console_sending_support import READERS, digest_run
from tests.console_support import EMAIL, PASSWORD
from tests.deliver_support import bodies
from tests.http_server import FeedServer
from tests.smtp_server import Received, SmtpServer
from tests.web_support import RunningSite
from tests.weekly_support import WEEK, weekly_site

pytestmark = pytest.mark.browser

WEEK_LINK = "Semaine du 8 au 14\u00a0mai\u00a02023"
EXCLUDED = "Repair cafés : une carte régionale pour trouver le plus proche"
PINNED = "Vélo-école : à Roubaix, des adultes apprennent à circuler en ville"
SUBJECT = "Lettre du Cerdd : le vélo s’apprend à tout âge"  # typographic apostrophe
EDITO = "Bonjour à toutes et à tous, cette semaine **on pédale**."
FIRST_SECTION = "PARTICIPATION CITOYENNE"  # the text part's headings are capitals


def sign_in(page: Page, site: RunningSite) -> None:
    page.goto(site.url + "/admin/", wait_until="load")  # the bookmark: sign-in comes first
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(site.url + "/admin/")


def follow(page: Page, link: str, path: str) -> None:
    """Click a link and land on its page. Scrolled into view first: after an edit the issue
    page sits at its notice (#done), and Chromium's click then missed the moving link."""
    found = page.get_by_role("link", name=link, exact=True)
    found.scroll_into_view_if_needed()
    found.click()
    page.wait_for_url(f"**{path}")


def edit_the_issue(page: Page) -> None:
    """Exclude one item, pin another, write the subject and the edito; each is saved."""
    page.get_by_role("button", name=f"Exclure : {EXCLUDED}").click()
    expect(page.locator("#done")).to_contain_text("exclu")
    page.get_by_role("button", name=f"Épingler : {PINNED}").click()
    expect(page.locator("#done")).to_contain_text("épinglé")
    page.fill("#subject", SUBJECT)
    page.fill("#edito", EDITO)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.frame_locator("iframe").locator("body")).to_contain_text("on pédale")


def plain(body: str) -> str:
    """`body` with its lines unwrapped and French typography's no-break spaces as spaces
    (so that a title is found whatever the layout, and its absence means something)."""
    spaced = body.replace("&nbsp;", " ").replace("&#160;", " ").replace("*", "")
    return " ".join(spaced.split())  # str.split() splits on U+00A0 and U+202F too


def assert_the_test_copy(received: Received) -> None:
    """The copy carries every edit: subject, edito, the pinned item first, no excluded one."""
    assert received.rcpt_tos == (EMAIL,)
    assert received.message["Subject"] == f"[TEST] {SUBJECT}"
    text, html = (plain(part) for part in bodies(received.message))
    assert "cette semaine on pédale" in text
    assert "<strong>on pédale</strong>" in html
    assert text.index("À LA UNE") < text.index(PINNED) < text.index(FIRST_SECTION)
    assert EXCLUDED not in text and EXCLUDED not in html
    assert PINNED in html


def test_the_weekly_job_from_sign_in_to_the_report(
    browser: Browser, tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    with weekly_site(tmp_path, feed_server, smtp_server.url) as site:
        # 9:00, Monday: cron's `digest run` built the week's issue; it waits for approval.
        built = digest_run(site, smtp_server, offline=False)
        assert built.returncode == 0, built.stdout + built.stderr
        assert smtp_server.messages == []

        ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # CSP enforced
        page = ctx.new_page()
        sign_in(page, site)
        due = page.locator(".due")
        expect(due).to_contain_text("Elle attend une approbation")
        due.get_by_role("link", name=WEEK_LINK).click()
        page.wait_for_url(f"{site.url}/admin/issues/{WEEK}")
        edit_the_issue(page)

        follow(page, "Envoyer un test", f"/admin/issues/{WEEK}/test")
        assert page.locator("#addresses").input_value() == EMAIL  # their own address
        page.get_by_role("button", name="Envoyer le test").click()
        expect(page.locator(".results")).to_contain_text(f"Envoyé à {EMAIL}")
        (copy,) = smtp_server.wait_for(1)
        assert_the_test_copy(copy)

        follow(page, "Approuver", f"/admin/issues/{WEEK}/approve")
        page.get_by_role("button", name=f"Approuver {WEEK}").click()
        expect(page.get_by_role("status")).to_contain_text("Lettre approuvée")

        # The next cron run sends it, in its own process.
        sent = digest_run(site, smtp_server)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        letters = smtp_server.wait_for(1 + READERS)[1:]
        assert {r.message["Subject"] for r in letters} == {SUBJECT}
        assert sorted(r.rcpt_tos[0] for r in letters) == [
            f"user{i:05d}@example.org" for i in range(READERS)
        ]

        follow(page, "Rapport", f"/admin/issues/{WEEK}/report")
        progress = page.locator(".progress").inner_text().replace("\u202f", " ")
        assert f"{READERS} envoyés sur {READERS}" in progress
        assert page.locator("tbody tr").count() == READERS
        ctx.close()
