"""The whole weekly job in headless Chromium, as the Cerdd's communications officer does it on a
Monday morning, with the mouse and keyboard only, against real parts: the shipped partners'
feeds on the loopback feed server, aiosmtpd, a SQLite file, the console under uvicorn, and
`digest run` in its own process, as cron runs it (the CSP enforced: no script on the pages).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.console_sending_support import READERS, digest_run
from tests.console_support import EMAIL
from tests.deliver_support import bodies
from tests.http_server import FeedServer
from tests.smtp_server import Received, SmtpServer
from tests.weekly_support import (
    EXCLUDED,
    PINNED,
    SUBJECT,
    WEEK,
    edit_the_issue,
    follow,
    open_the_due_issue,
    sign_in,
    weekly_site,
)

pytestmark = pytest.mark.browser

FIRST_SECTION = "PARTICIPATION CITOYENNE"  # the text part's headings are capitals


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
        expect(page.locator(".due")).to_contain_text("Elle attend une approbation")
        open_the_due_issue(page)
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
