"""The Cerdd's week as the repository ships it, on loopback: feeds.yaml's sources and themes,
its partners' feeds (content/feeds/, served by the loopback feed server at the `url:` of
each partner) and its recaps (content/recaps/, copied), a real SQLite store, subscribers, a
staff account, and the console under uvicorn, its clock on Monday 2023-05-15 9:30 in Paris:
the morning issue 2023-W19 is due; then the officer's steps. Shared by the weekly-job test
and scripts/screenshots.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import Page, expect

from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from digest.web import create_app
from tests.console_sending_support import DUE, READERS
from tests.console_support import EMAIL, PASSWORD, add_staff
from tests.deliver_support import add_subscribers
from tests.http_server import FeedServer
from tests.web_support import KEYS, Clock, RunningSite, bound_socket, serve

ROOT = Path(__file__).resolve().parent.parent
WEEK = "2023-W19"
WEEK_LINK = "Semaine du 8 au 14\u00a0mai\u00a02023"
EXCLUDED = "Repair cafés : une carte régionale pour trouver le plus proche"
PINNED = "Vélo-école : à Roubaix, des adultes apprennent à circuler en ville"
SUBJECT = "Lettre du Cerdd : le vélo s’apprend à tout âge"  # typographic apostrophe
EDITO = "Bonjour à toutes et à tous, cette semaine **on pédale**."


def cerdd_config(folder: Path, base_url: str, feeds: FeedServer) -> Path:
    """feeds.yaml as shipped, each partner's snapshot served at its `url:`, the recaps
    copied into `folder` (console edits write there, never into the repository)."""
    shipped: dict[str, Any] = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    for source in shipped["sources"]:
        if "snapshot" in source:
            snapshot = ROOT / source.pop("snapshot")
            source["url"] = feeds.add(snapshot.stem, snapshot.read_bytes())
        else:
            source["path"] = "recaps"
    shutil.copytree(ROOT / "content" / "recaps", folder / "recaps")
    shipped["newsletter"]["base_url"] = base_url
    shipped.pop("templates", None)  # the repository's own folder: the defaults instead
    shipped["store"] = "digest.db"
    shipped["delivery"] = {"retry_base": 600, "retry_wait": 0}
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True, sort_keys=False), "utf-8")
    return path


@contextmanager
def weekly_site(folder: Path, feeds: FeedServer, smtp_url: str) -> Iterator[RunningSite]:
    """The console, before cron's first run of the Monday: nothing built yet."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = load_config(cerdd_config(folder, url, feeds))
    clock = Clock(DUE)
    app = create_app(config, keys=KEYS, smtp=parse_smtp_url(smtp_url), clock=clock)
    with serve(app, sock):
        site = RunningSite(url, config, clock)
        add_staff(site)
        with Store(config.store) as store:
            add_subscribers(store, READERS)
        yield site


# What the communications officer does, step by step (the test and the screenshots).


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


def open_the_due_issue(page: Page) -> None:
    page.locator(".due").get_by_role("link", name=WEEK_LINK).click()
    page.wait_for_url(f"**/admin/issues/{WEEK}")


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
