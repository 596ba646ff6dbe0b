"""Issue 14 end to end, as a reader does it: subscribe with two themes through the real form
in headless Chromium, confirm from the email, then receive an issue with items in four
themes that holds exactly the chosen sections plus the common ones (read at aiosmtpd)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.web import create_app
from tests.http_server import FeedServer
from tests.smtp_server import SmtpServer
from tests.test_cuts import THEMES, W19, add, build, send, site, titles
from tests.web_support import KEYS, bound_socket, link_in, serve

pytestmark = pytest.mark.browser
BASE_URL = "https://lettre.example.org"  # the newsletter's base_url in test_cuts.site


def subscribe_in_the_form(browser: Browser, url: str, smtp: SmtpServer, address: str) -> None:
    page = browser.new_page()
    page.goto(url + "/")
    group = page.get_by_role("group", name="Les thèmes qui vous intéressent")
    group.get_by_label("Climat").check()
    group.get_by_label("Participation citoyenne").check()
    page.get_by_label("Votre adresse électronique").fill(address)
    page.get_by_role("button", name="Je m’inscris").click()
    page.get_by_role("heading", name="Vérifiez votre boîte de réception").wait_for()
    body = smtp.wait_for(1)[0].message.get_content()
    # The link names the public site (base_url); the same path on the served app.
    page.goto(url + link_in(body, BASE_URL, "confirm").removeprefix(BASE_URL))
    page.get_by_role("button", name="Je confirme mon inscription").click()
    page.get_by_role("heading", name="Inscription confirmée").wait_for()
    page.close()


def test_a_reader_chooses_two_themes_in_the_form_and_gets_just_those(
    browser: Browser, tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    config = site(tmp_path, feed_server)
    build(config, W19)
    add(config, "marc@example.org")  # no choice: the whole issue, to compare
    sock = bound_socket()
    app = create_app(load_config(config), keys=KEYS, smtp=parse_smtp_url(smtp_server.url))
    with serve(app, sock):
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        subscribe_in_the_form(browser, url, smtp_server, "lea@example.org")
    send(config, smtp_server, W19)
    issues = [
        m for m in smtp_server.messages if m.message["Subject"].startswith("La une de la semaine")
    ]
    by_reader = {m.rcpt_tos: m.message for m in issues}
    assert set(by_reader) == {("lea@example.org",), ("marc@example.org",)}
    chosen = {"une", "agenda", "climat", "participation"}  # the common parts, two themes
    assert titles(by_reader[("lea@example.org",)], W19) == {"text": chosen, "html": chosen}
    everything = {"une", "agenda", *THEMES}
    assert titles(by_reader[("marc@example.org",)], W19) == {"text": everything, "html": everything}
