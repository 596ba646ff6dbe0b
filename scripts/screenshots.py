"""Screenshots of the email, the site and the console for the docs: `make screenshots`.

Renders the golden issue (tests/golden_plugin.py) as the email, runs the site on loopback
with that issue sent and the newsletter's logo, address and privacy notice, and photographs
them in headless Chromium at phone and desktop widths, light and dark. Then the console's
weekly job (docs/weekly-guide.md), step by step as tests/test_weekly_job_browser.py does it:
the shipped feeds on the loopback feed server, a real SMTP server, the clock fixed on Monday
2023-05-15 9:30, so that each run takes the same pictures. The PNGs go to docs/screenshots/
(committed: the docs show them). Nothing leaves the machine: pictures are answered with
generated PNGs, every other outside request is refused.
"""

from __future__ import annotations

import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from digest.period import week_period  # noqa: E402
from digest.pipeline import build_and_store  # noqa: E402
from digest.render import render_issue  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.tokens import PREFERENCES, make_token  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.console_sending_support import deliver  # noqa: E402
from tests.golden_plugin import golden_issue, make_config  # noqa: E402
from tests.http_server import serving_feeds  # noqa: E402
from tests.site_look import (  # noqa: E402
    LOOK,
    THEMES,
    SitePage,
    answer_outside,
    open_page,
    publish_issue,
)
from tests.smtp_server import SmtpServer, receiving_mail  # noqa: E402
from tests.web_support import KEYS, RunningSite, running_site  # noqa: E402
from tests.weekly_support import (  # noqa: E402
    WEEK,
    edit_the_issue,
    follow,
    open_the_due_issue,
    sign_in,
    weekly_site,
)

OUT = ROOT / "docs" / "screenshots"
SHOTS = [  # (file name, page, width, scheme)
    ("site-home-375", SitePage("home", "/"), 375, "light"),
    ("site-home-600-dark", SitePage("home", "/"), 600, "dark"),
    ("site-archives-600", SitePage("archives", "/archives/"), 600, "light"),
    ("site-embed-600", SitePage("embed", "/embed"), 600, "light"),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        html = render_issue(golden_issue(), make_config(Path(folder))).html
        for width in (375, 600):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.route("**/*", answer_outside("about:"))
            page.set_content(html, wait_until="load")
            _save(page, f"email-{width}")
            page.close()
        # No mail server: the site is only looked at (port 9 refuses at once).
        with running_site(
            Path(folder), "smtp://127.0.0.1:9", extra=THEMES, newsletter=LOOK
        ) as site:
            publish_issue(site)
            shots = [*SHOTS, ("site-preferences-375", _preferences(site), 375, "light")]
            for name, shown, width, scheme in shots:
                ctx = browser.new_context(
                    viewport={"width": width, "height": 900},
                    color_scheme=scheme,  # type: ignore[arg-type]
                )
                _save(open_page(ctx, site, shown), name)
                ctx.close()
        weekly_job(browser, Path(folder) / "week")
        browser.close()


def weekly_job(browser: Browser, folder: Path) -> None:
    """The console at each step of the week. Cron's build and send are the library calls
    `digest run` makes, in this process, so that they read the fixed clock too (a real
    `digest run` records each message at the time it really went out)."""
    folder.mkdir()
    with (
        serving_feeds() as feeds,
        receiving_mail() as smtp,
        weekly_site(folder, feeds, smtp.url) as site,
    ):
        _in_a_thread(_build, site)  # 9:00: cron built the issue
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        sign_in(page, site)
        _save(page, "console-dashboard")
        open_the_due_issue(page)
        edit_the_issue(page)
        page.set_viewport_size({"width": 1280, "height": 1000})  # the email and the items
        page.evaluate("window.scrollTo(0, 0)")
        _save(page, "console-issue", full_page=False)
        page.set_viewport_size({"width": 1280, "height": 720})
        follow(page, "Envoyer un test", f"/admin/issues/{WEEK}/test")
        page.get_by_role("button", name="Envoyer le test").click()
        page.wait_for_selector(".results")
        # The Message-ID is new each time, its length too: masked by a box of fixed width,
        # so that the picture stays the same.
        message_id = page.locator(".results .reason")
        message_id.evaluate("e => { e.style.display = 'inline-block'; e.style.width = '30em' }")
        _save(page, "console-test-sent", mask=[message_id])
        follow(page, "Approuver", f"/admin/issues/{WEEK}/approve")
        page.get_by_role("button", name=f"Approuver {WEEK}").click()
        page.wait_for_url("**/approve?done=1")
        _save(page, "console-approve")
        _in_a_thread(_send, site, smtp)  # the next cron run
        follow(page, "Rapport", f"/admin/issues/{WEEK}/report")
        _save(page, "console-report")
        page.close()


def _build(site: RunningSite) -> None:
    with Store(site.config.store) as store:
        period = week_period(WEEK, site.config.newsletter.tz)
        build_and_store(site.config, period, site.clock(), store)


def _send(site: RunningSite, smtp: SmtpServer) -> None:
    deliver(site, smtp)


def _in_a_thread(work: Any, *args: Any) -> None:
    """Playwright's sync API keeps an event loop running in this thread, and fetching the
    feeds or sending starts one of its own: they run in a thread of their own."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(work, *args).result()


def _preferences(site: RunningSite) -> SitePage:
    """A reader's preference page, as it answers a change of themes."""
    with Store(site.config.store) as store:
        found = store.create_subscriber(
            "claire@cerdd.org", "Claire", "confirmed", "fr", site.clock(), event="add",
            source="staff", themes=("climat", "participation"),
        )  # fmt: skip
    assert found is not None
    path = f"/preferences/{make_token(KEYS, PREFERENCES, found, site.clock())}"
    return SitePage("preferences", path, {"action": "save", "name": "Claire", "themes": "climat"})


def _save(page: Page, name: str, full_page: bool = True, **options: Any) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, mask_color="#d8dde3", **options)
    print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
