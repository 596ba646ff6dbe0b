"""The email as a reader sees it in headless Chromium: 375 and 600 px, light and dark,
pictures shown or blocked (Outlook's default). Each check is one a person makes: what to
tap stands out, every item has its "Lire la suite", blocked pictures don't repeat titles,
the footer says who sends it and from where, "Voir dans le navigateur" is at the top.

Screenshots are read back by the browser itself (a canvas), so no image library is needed.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

from digest.render import RenderedIssue, render_issue
from tests.golden_plugin import golden_issue, make_config
from tests.test_render_browser import IMAGE, OVERFLOW_JS

pytestmark = pytest.mark.browser

# What a reader checks on each item: the title link and the text around it, its "Lire la
# suite" link, its picture.
ITEMS_JS = """() => [...document.querySelectorAll('h3')].map(h => {
  const link = h.querySelector('a');
  const body = h.parentElement;
  const more = [...body.querySelectorAll('a')].find(a => a.textContent.includes('→'));
  const style = e => getComputedStyle(e);
  const box = more ? more.getBoundingClientRect() : null;
  return {
    title: h.textContent.trim(),
    href: link ? link.getAttribute('href') : null,
    linkColor: link ? style(link).color : null,
    linkLine: link ? style(link).textDecorationLine : null,
    textColor: style(body).color,
    textLine: style(body).textDecorationLine,
    more: more ? {text: more.textContent.trim(), href: more.getAttribute('href'),
                  visible: box.width > 0 && box.height > 0} : null,
  };
})"""
PICTURES_JS = """() => [...document.images].map(i => {
  const s = getComputedStyle(i);
  const link = i.closest('a');
  return {alt: i.getAttribute('alt'), width: i.getAttribute('width'), shown: i.width,
          font: s.fontFamily, color: s.color, href: link ? link.getAttribute('href') : null};
})"""
# The lightness of a screenshot's pixels (luma of the sRGB values), read on a canvas: the
# share of dark (< 0.25: the ink #1f2933 is 0.16) and light (> 0.75) ones, and the extremes.
PIXELS_JS = """async (src) => {
  const img = new Image();
  img.src = src;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const lum = i => (0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2]) / 255;
  let dark = 0, light = 0, min = 1, max = 0;
  for (let i = 0; i < data.length; i += 4) {
    const l = lum(i);
    dark += l < 0.25; light += l > 0.75; min = Math.min(min, l); max = Math.max(max, l);
  }
  const count = data.length / 4;
  return {dark: dark / count, light: light / count, min: min, max: max};
}"""


# Each occurrence of "12 %" or "14 mai" in the page's visible text (whatever space joins
# them) and on how many lines it lies: a Range's client rectangles, one per line box.
SPLIT_JS = """(pattern) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (const match of node.data.matchAll(new RegExp(pattern, 'g'))) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const boxes = [...range.getClientRects()].filter(r => r.width > 0);
      if (!boxes.length) continue;  // hidden (the preheader)
      const tops = boxes.map(r => r.top);
      // Another line: a box that starts below the first one's middle.
      const broken = Math.max(...tops) - Math.min(...tops) > boxes[0].height / 2;
      found.push({text: match[0], broken: broken});
    }
  }
  return found;
}"""
SPLIT_PATTERN = "12[ \\u00a0\\u202f]%|14[ \\u00a0\\u202f]mai"
# Words of every length before "12 %" and "14 mai", so that some occurrence falls at the
# end of a line at 375 px whatever the font's metrics.
LEADS = "a de les pour hausse environ exactement précisément".split()


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(golden_issue(), make_config(Path(__file__).parent))


def _open(browser: Browser, html: str, width: int, scheme: str, pictures: bool) -> Page:
    page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)  # type: ignore[arg-type]

    def answer(route: Route) -> None:
        if pictures and route.request.resource_type == "image":
            route.fulfill(status=200, body=IMAGE, content_type="image/png")
        else:
            route.abort()  # pictures blocked, as Outlook does by default

    page.route("**/*", answer)
    page.set_content(html, wait_until="load")
    return page


def _luminance(color: str) -> float:
    """The relative luminance of a computed CSS colour ("rgb(r, g, b)")."""
    red, green, blue = (int(c) / 255 for c in color[color.index("(") + 1 : -1].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _pixels(browser: Browser, png: bytes) -> dict[str, float]:
    page = browser.new_page()
    try:
        src = "data:image/png;base64," + base64.b64encode(png).decode()
        result: dict[str, float] = page.evaluate(PIXELS_JS, src)
        return result
    finally:
        page.close()


def _check_items(items: list[dict[str, Any]], scheme: str) -> None:
    assert len(items) == 6
    for item in items:
        assert item["href"], item  # every title is a link (a recap's leads to its anchor)
        distinct = item["linkColor"] != item["textColor"] or item["linkLine"] != item["textLine"]
        assert distinct and "underline" in item["linkLine"], item
        assert item["more"] == {"text": "Lire la suite →", "href": item["href"], "visible": True}
        if scheme == "dark":  # light links on a dark ground
            assert _luminance(item["linkColor"]) > 0.4 and _luminance(item["textColor"]) > 0.6


def _check_pictures(pictures: list[dict[str, Any]], titles: list[str], shown: bool) -> None:
    items = pictures[1:]  # the first is the logo
    assert len(items) == 2
    for picture in items:
        assert picture["width"] and picture["href"], picture  # fixed width, linked
        assert picture["alt"] not in titles and not picture["alt"].startswith("Illustration")
        assert "Arial" in picture["font"]  # a blocked picture's alt text is styled
    assert [p["alt"] for p in items] == ["", "Carte des 40 actions du plan climat"]
    if shown:
        assert all(p["shown"] > 0 for p in pictures)


@pytest.mark.parametrize("pictures", [True, False], ids=["pictures", "blocked"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
def test_what_a_reader_sees(
    browser: Browser,
    rendered: RenderedIssue,
    width: int,
    scheme: str,
    pictures: bool,
    tmp_path: Path,
) -> None:
    page = _open(browser, rendered.html, width, scheme, pictures)
    measured: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    assert measured["scroll"] <= width and measured["wide"] == [], measured  # no sideways
    items: list[dict[str, Any]] = page.evaluate(ITEMS_JS)
    _check_items(items, scheme)
    _check_pictures(page.evaluate(PICTURES_JS), [i["title"] for i in items], pictures)
    top = page.get_by_role("link", name="Voir dans le navigateur").bounding_box()
    assert top is not None and top["y"] + top["height"] < 150
    address = page.get_by_text("Le Cerdd, 1 rue de l’Exemple, 62000 Arras")
    assert address.is_visible() and page.get_by_text("Transférer à un·e collègue").is_visible()
    assert page.get_by_text("Abonnez-vous").count() == 0  # no call to subscribe subscribers
    shot = page.screenshot(path=str(tmp_path / f"email-{width}-{scheme}.png"))
    head = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": 150})
    page.close()
    seen, first_rows = _pixels(browser, shot), _pixels(browser, head)
    assert first_rows["max"] - first_rows["min"] > 0.5  # the top is not blank
    # Most of the page is its ground; text is under 1 % of the pixels (thin strokes).
    if scheme == "dark":  # a dark page whose text is light
        assert seen["dark"] > 0.5 and seen["light"] > 0.001, seen
    else:
        assert seen["light"] > 0.5 and seen["dark"] > 0.001, seen


def test_pictures_span_the_column_on_a_phone(browser: Browser, rendered: RenderedIssue) -> None:
    page = _open(browser, rendered.html, 375, "light", True)
    widths = [p["shown"] for p in page.evaluate(PICTURES_JS)[1:]]
    page.close()
    assert widths and all(w >= 375 - 2 * 24 - 12 for w in widths), widths


def _crowded_with_numbers() -> str:
    """The golden issue's email with "12 %" and "dimanche 14 mai" all over its edito."""
    sentences = " ".join(
        f"{lead}{'x' * extra} 12 % le dimanche 14 mai." for extra in range(3) for lead in LEADS
    )
    issue = replace(golden_issue(), edito_html=f"<p>{sentences}</p>", edito_text=sentences)
    return render_issue(issue, make_config(Path(__file__).parent)).html


def test_12_percent_and_14_mai_never_break_across_lines(browser: Browser) -> None:
    html = _crowded_with_numbers()
    found = []
    # The same email with ordinary spaces is the control: there, some occurrences do
    # break, so the width is narrow enough to prove the no-break spaces hold.
    for source in (html, html.replace("\u00a0", " ").replace("\u202f", " ")):
        page = _open(browser, source, 375, "light", False)
        found.append(page.evaluate(SPLIT_JS, SPLIT_PATTERN))
        page.close()
    typeset, control = found
    assert len(typeset) == len(control) >= 2 * 3 * len(LEADS)
    assert any(f["broken"] for f in control), control
    assert not [f for f in typeset if f["broken"]]
    assert {f["text"] for f in typeset} == {"12\u00a0%", "14\u00a0mai"}
