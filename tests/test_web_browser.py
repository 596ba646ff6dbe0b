"""A person subscribes in headless Chromium: form, email, link, button; the CSP breaks nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage

from digest.store import Store
from tests.smtp_server import SmtpServer
from tests.web_support import link_in, running_site


@pytest.mark.browser
def test_a_person_subscribes_and_confirms(
    browser: Browser, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    console: list[str] = []
    with running_site(tmp_path, smtp_server.url) as site:
        page = browser.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if _bad(m) else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.goto(site.url + "/")
        # The stylesheet loaded under the CSP: the honeypot is out of sight.
        honeypot = page.locator(".hp")
        assert honeypot.evaluate("e => getComputedStyle(e).position") == "absolute"
        box = page.get_by_label("Laissez ce champ vide").bounding_box()
        assert box is not None and box["x"] + box["width"] < 0  # left of the screen

        page.get_by_label("Votre adresse électronique").fill("lea.dubois@example.org")
        page.get_by_role("button", name="Je m’inscris").click()
        page.get_by_role("heading", name="Vérifiez votre boîte de réception").wait_for()

        body = smtp_server.wait_for(1)[0].message.get_content()
        page.goto(link_in(body, site.url, "confirm"))
        page.get_by_role("heading", name="Confirmer votre inscription").wait_for()
        with Store(site.config.store) as store:
            found = store.subscriber_by_email("lea.dubois@example.org")
        assert found is not None and found.status == "pending"

        page.get_by_role("button", name="Je confirme mon inscription").click()
        page.get_by_role("heading", name="Inscription confirmée").wait_for()
        with Store(site.config.store) as store:
            found = store.subscriber_by_email("lea.dubois@example.org")
        assert found is not None and found.status == "confirmed"
        page.goto(site.url + "/archives/")
        page.close()
    assert console == []


def _bad(message: ConsoleMessage) -> bool:
    """Errors and warnings, CSP violations among them (Chromium logs them as errors)."""
    return message.type in ("error", "warning") or "Content Security Policy" in message.text


@pytest.mark.browser
def test_the_csp_blocks_inline_script_and_is_reported(
    browser: Browser, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """The check above can fail: an inline script slipped into a template is blocked, loudly."""
    custom = tmp_path / "custom" / "site"
    custom.mkdir(parents=True)
    (custom / "home.html").write_text(
        '{% extends "site/base.html" %}{% block main %}<h1>Accueil</h1>'
        "<script>document.title = 'pwned'</script>{% endblock %}",
        encoding="utf-8",
    )
    console: list[str] = []
    with running_site(tmp_path, smtp_server.url, extra="templates: custom\n") as site:
        page = browser.new_page()
        page.on("console", lambda m: console.append(m.text) if _bad(m) else None)
        page.goto(site.url + "/")
        page.get_by_role("heading", name="Accueil").wait_for()
        title = page.title()
        page.close()
    assert title != "pwned"
    assert any("Content Security Policy" in text for text in console), console
