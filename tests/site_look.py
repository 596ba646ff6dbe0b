"""What the browser tests of the site share with scripts/screenshots.py: a site with a
sent issue, logo, privacy notice and address, its pages in every state, and axe-core.

The logo and the issue's pictures are answered by the page's own route (a generated PNG);
every other request that leaves the site is refused, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Route

from digest.render import render_issue
from digest.render.data import issue_data
from digest.store import Store, StoredIssue
from digest.tokens import CONFIRM, PREFERENCES, UNSUBSCRIBE, make_token
from tests.golden_plugin import golden_issue
from tests.web_support import KEYS, RunningSite

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LOGO = "https://cdn.example.org/logo.png"
ADDRESS = "Le Cerdd, 1 rue de l'Exemple, 62000 Arras"
PRIVACY = "https://cerdd.example.org/donnees-personnelles"
# The newsletter's identity, for running_site(newsletter=LOOK).
LOOK = f'  logo: "{LOGO}"\n  privacy_url: "{PRIVACY}"\n  address: "{ADDRESS}"\n'
# Themes, so that the subscribe form shows its checkboxes (`mobilite_douce` has a `_`, which
# a LIKE pattern reads as "any character").
THEMES = (
    "themes:\n"
    "  - id: climat\n"
    '    title: "Climat"\n'
    "  - id: energie\n"
    '    title: "Énergie"\n'
    "  - id: participation\n"
    '    title: "Participation citoyenne"\n'
    "  - id: mobilite_douce\n"
    '    title: "Mobilité douce"\n'
)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + data


LOGO_PNG = png(320, 96, (20, 83, 45))
PICTURE_PNG = png(800, 500, (90, 150, 110))


def answer_outside(site_url: str) -> Any:
    """A route handler: the site's own requests go through, pictures get a PNG, the rest
    is refused."""

    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith(site_url):
            route.continue_()
        elif route.request.resource_type == "image":
            route.fulfill(status=200, body=LOGO_PNG if url == LOGO else PICTURE_PNG)
        else:
            route.abort()

    return handle


def publish_issue(site: RunningSite) -> None:
    """The golden issue, rendered for this site (its links point here), stored as sent."""
    issue = golden_issue()
    rendered = render_issue(issue, site.config)
    data = issue_data(issue, site.config.newsletter.language, rendered.subject, rendered.preheader)
    with Store(site.config.store) as store:
        store.save_issue(
            StoredIssue(
                issue.id,
                issue.period.start,
                issue.period.end,
                issue.built_at,
                json.dumps(data, ensure_ascii=False),
                rendered.html,
                rendered.text,
                rendered.web,
                "built",
            )
        )
        store.set_issue_subject(issue.id, rendered.subject)
        store.set_issue_status(issue.id, "sent")


@dataclass(frozen=True)
class SitePage:
    name: str
    path: str
    post: dict[str, str] | None = None  # a form to send first (the page is its answer)


def every_page(site: RunningSite) -> list[SitePage]:
    """Every page a reader can meet, each in its states."""
    now = site.clock()
    with Store(site.config.store) as store:
        ids = {
            status: store.create_subscriber(
                f"{status}@example.org", "", status, "fr", now, event="test", source="test"
            )
            for status in ("pending", "confirmed", "unsubscribed")
        }
        paused = store.create_subscriber(
            "paused@example.org", "", "confirmed", "fr", now, event="test", source="test"
        )
        assert paused is not None
        store.pause(paused, now + timedelta(weeks=4), now, source="test", ip=None)
    pending, confirmed, gone = (ids["pending"], ids["confirmed"], ids["unsubscribed"])
    assert pending is not None and confirmed is not None and gone is not None
    confirm = f"/confirm/{make_token(KEYS, CONFIRM, pending, now)}"
    preferences = f"/preferences/{make_token(KEYS, PREFERENCES, confirmed, now)}"
    old = now - timedelta(days=site.config.site.preferences_days + 1)
    return [
        SitePage("home", "/"),
        SitePage("archives", "/archives/"),
        SitePage("issue", "/archives/2023-W19/"),
        SitePage("embed", "/embed"),
        SitePage("not-found", "/nowhere"),
        SitePage("check", "/subscribe", {"email": "new@example.org", "website": ""}),
        SitePage("bad-address", "/subscribe", {"email": "pas une adresse", "website": ""}),
        SitePage("confirm", confirm),
        SitePage("confirm-already", f"/confirm/{make_token(KEYS, CONFIRM, confirmed, now)}"),
        SitePage("confirm-invalid", "/confirm/nothing.valid"),
        SitePage("unsubscribe", f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, confirmed)}"),
        SitePage("unsubscribe-again", f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, gone)}"),
        SitePage("confirmed", confirm, {}),
        SitePage("preferences", preferences),
        SitePage("preferences-saved", preferences, {"action": "save", "name": "Léa"}),
        SitePage(
            "preferences-paused", f"/preferences/{make_token(KEYS, PREFERENCES, paused, now)}"
        ),
        SitePage("preferences-expired", f"/preferences/{make_token(KEYS, PREFERENCES, gone, old)}"),
    ]


def context(browser: Browser, width: int, scheme: str = "light") -> BrowserContext:
    """A phone or desktop window; the CSP is bypassed only so that axe can be injected
    (test_web_browser checks the CSP itself)."""
    return browser.new_context(
        viewport={"width": width, "height": 900},
        color_scheme=scheme,  # type: ignore[arg-type]
        bypass_csp=True,
    )


def open_page(ctx: BrowserContext, site: RunningSite, shown: SitePage) -> Page:
    page = ctx.new_page()
    page.route("**/*", answer_outside(site.url))
    if shown.post is None:
        page.goto(site.url + shown.path, wait_until="load")
    else:  # a form's answer, as a browser gets it after a POST
        page.goto(site.url + "/embed", wait_until="load")
        page.evaluate(
            """([action, fields]) => {
              const form = document.createElement('form');
              form.method = 'post'; form.action = action;
              for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input');
                input.name = name; input.value = value; form.appendChild(input);
              }
              document.body.appendChild(form); form.submit();
            }""",
            [site.url + shown.path, shown.post],
        )
        page.wait_for_load_state("load")
        page.wait_for_function("() => !location.pathname.startsWith('/embed')")
    return page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on `page` (WCAG 2.x A and AA rules)."""
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return result.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return found


def tab_to(page: Page, test: str, presses: int = 60) -> None:
    """Tab from the top of the page until `test` (JS, on document.activeElement) holds:
    the keyboard-only tests of the console's pages."""
    page.locator("body").focus()
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {test})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached {test}")
