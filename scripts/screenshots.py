"""Screenshots of the email and the site for the docs: `make screenshots`.

Renders the golden issue (tests/golden_plugin.py) as the email, runs the site on loopback
with that issue sent and the newsletter's logo, address and privacy notice, and photographs
them in headless Chromium at phone and desktop widths, light and dark. The PNGs go to
docs/screenshots/ (committed: the docs show them). Nothing leaves the machine: pictures are
answered with generated PNGs, every other outside request is refused.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from digest.render import render_issue  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.tokens import PREFERENCES, make_token  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.golden_plugin import golden_issue, make_config  # noqa: E402
from tests.site_look import (  # noqa: E402
    LOOK,
    THEMES,
    SitePage,
    answer_outside,
    open_page,
    publish_issue,
)
from tests.web_support import KEYS, RunningSite, running_site  # noqa: E402

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
        browser.close()


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


def _save(page: object, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
