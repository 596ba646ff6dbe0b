"""Render in headless Chromium: the email and the web page fit a phone and a desktop pane.

Images are answered by the test itself (a generated PNG) and every other request is
refused, so nothing leaves the machine.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from digest.render import RenderedIssue, render_issue
from tests.golden_plugin import golden_issue, make_config, sized_issue

pytestmark = pytest.mark.browser

SECTION_TITLES = ["Édito", "À la une", "Participation citoyenne", "Climat et énergie", "Agenda"]

# Elements whose right edge passes the viewport, and the page's own scroll width.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) wide.push(el.tagName + ' ' + box.right);
  }
  return {scroll: document.documentElement.scrollWidth, width: width, wide: wide};
}"""
TITLES_JS = """() => [...document.querySelectorAll('h2')].map(h => {
  const box = h.getBoundingClientRect();
  return {text: h.textContent.trim(), x: box.x, y: box.y + window.scrollY,
          width: box.width, height: box.height,
          page: document.documentElement.scrollHeight,
          visible: getComputedStyle(h).visibility !== 'hidden'};
})"""


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes((90, 150, 110)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + data


IMAGE = _png(800, 500)


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(golden_issue(), make_config(Path(__file__).parent))


def _answer(route: Route) -> None:
    if route.request.resource_type == "image":
        route.fulfill(status=200, body=IMAGE, content_type="image/png")
    else:
        route.abort()


def _open(browser: Browser, html: str, width: int) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.route("**/*", _answer)
    page.set_content(html, wait_until="load")
    return page


def _check_fits(page: Page, width: int) -> None:
    measured: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    assert measured["width"] == width
    assert measured["scroll"] <= width, measured
    assert measured["wide"] == [], measured["wide"][:5]


def _check_titles(page: Page, width: int, expected: list[str]) -> None:
    titles: list[dict[str, Any]] = page.evaluate(TITLES_JS)
    assert [t["text"].lower() for t in titles] == [e.lower() for e in expected]
    for title in titles:
        assert title["visible"] and title["width"] > 0 and title["height"] > 0, title
        assert title["x"] >= 0 and title["x"] + title["width"] <= width, title
        assert title["y"] >= 0 and title["y"] + title["height"] <= title["page"], title


@pytest.mark.parametrize("width", [375, 600])
def test_email_fits_and_shows_every_section(
    browser: Browser, rendered: RenderedIssue, width: int, tmp_path: Path
) -> None:
    page = _open(browser, rendered.html, width)
    _check_fits(page, width)
    _check_titles(page, width, SECTION_TITLES)
    images = page.evaluate("() => [...document.images].map(i => i.naturalWidth)")
    assert images and all(w == 800 for w in images)  # every image was answered and shown
    page.screenshot(path=str(tmp_path / f"digest-{width}.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("width", [375, 600])
def test_web_page_fits_and_shows_every_section(
    browser: Browser, rendered: RenderedIssue, width: int
) -> None:
    page = _open(browser, rendered.web, width)
    _check_fits(page, width)
    _check_titles(page, width, SECTION_TITLES)
    page.close()


def test_trimmed_email_still_fits_a_phone(browser: Browser, tmp_path: Path) -> None:
    result = render_issue(sized_issue(500), make_config(tmp_path))
    page = _open(browser, result.html, 375)
    _check_fits(page, 375)
    footer = page.get_by_text("Se désinscrire")
    assert footer.is_visible()
    page.close()
