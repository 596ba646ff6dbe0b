"""The preference centre as a reader uses it, in headless Chromium: the link taken from an
issue really sent to aiosmtpd, themes changed and confirmed, a pause that the next send
honours and a resumption it follows, leaving from the page, and axe-core on every state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from digest.delivery.deliver import send_issue
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from tests.deliver_support import FAST, GOLDEN, bodies, parse, store_issue
from tests.site_look import THEMES, axe_violations, context
from tests.smtp_server import SmtpServer
from tests.web_support import KEYS, RunningSite, link_in, running_site

pytestmark = pytest.mark.browser
READER = "claire@cerdd.org"


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url, extra=THEMES + FAST) as running:
        with Store(running.config.store) as store:
            found = store.create_subscriber(
                READER, "Claire", "confirmed", "fr", running.clock(), event="add",
                source="test", themes=("climat", "energie"),
            )  # fmt: skip
            assert found is not None
            for week in ("2023-W19", "2023-W20", "2023-W21"):
                store_issue(store, issue_id=week)
        yield running


def send(site: RunningSite, server: SmtpServer, issue: str) -> int:
    """Send `issue` for real; how many messages the server then holds."""
    with Store(site.config.store) as store:
        send_issue(
            site.config, store, issue, site.clock, smtp=parse_smtp_url(server.url), keys=KEYS
        )
    return len(server.messages)


def preferences_link(site: RunningSite, server: SmtpServer) -> str:
    text, html = bodies(parse(server.messages[-1].data))
    link = link_in(text, site.url, "preferences")
    assert link in html and link != link_in(text, site.url, "unsubscribe")
    return link


def stored_themes(site: RunningSite) -> tuple[tuple[str, ...], str, list[str]]:
    with Store(site.config.store) as store:
        found = store.subscriber_by_email(READER)
        assert found is not None
        return found.themes, found.status, [r.event for r in store.consent_log(found.id)]


def sections_received(server: SmtpServer) -> set[str]:
    """The themes of the golden issue whose items the newest message holds (text part)."""
    text = " ".join(bodies(parse(server.messages[-1].data))[0].split()).replace("’", "'")
    data = json.loads((GOLDEN / "build-2023-W19.json").read_text(encoding="utf-8"))
    return {
        section["theme"]
        for section in data["sections"]
        if any(" ".join(item["title"].split()) in text for item in section["items"])
    }


def test_a_reader_changes_themes_pauses_resumes_and_leaves(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer
) -> None:
    assert send(site, smtp_server, "2023-W19") == 1
    assert sections_received(smtp_server) == {"climat", "energie"}  # the reader's cut
    page = browser.new_page()
    page.goto(preferences_link(site, smtp_server))
    page.get_by_role("heading", name="Vos préférences").wait_for()
    assert "c•••@cerdd.org" in page.inner_text("main")
    group = page.get_by_role("group", name="Les thèmes qui vous intéressent")
    # Two themes: their cut has 5 items of the golden issue, enough to be sent (issue 14's
    # thin-cut rule skips a reader whose sections hold fewer than schedule.min_items).
    assert group.get_by_label("Climat").is_checked() and group.get_by_label("Énergie").is_checked()
    group.get_by_label("Climat").uncheck()
    group.get_by_label("Énergie").check()
    group.get_by_label("Mobilité douce").check()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.get_by_role("status").filter(has_text="C’est enregistré").wait_for()
    assert stored_themes(site)[0] == ("energie", "mobilite_douce")

    page.get_by_role("button", name="Pause de 4 semaines").click()
    page.get_by_role("status").filter(has_text="en pause jusqu’au").wait_for()
    assert send(site, smtp_server, "2023-W20") == 1  # paused: nothing arrives
    page.get_by_role("button", name="Reprendre maintenant").click()
    page.get_by_role("status").filter(has_text="La pause est terminée").wait_for()
    assert send(site, smtp_server, "2023-W21") == 2  # resumed: it arrives
    assert list(smtp_server.messages[-1].rcpt_tos) == [READER]
    # The cut follows the themes chosen on the page (the golden issue has no mobilite_douce).
    assert sections_received(smtp_server) == {"energie"}

    page.goto(preferences_link(site, smtp_server))  # the newest email's link works too
    page.get_by_role("button", name="Je me désinscris").click()
    page.get_by_role("heading", name="Désinscription enregistrée").wait_for()
    page.close()
    themes, status, events = stored_themes(site)
    assert (themes, status) == (("energie", "mobilite_douce"), "unsubscribed")
    assert events == ["add", "themes", "pause", "resume", "unsubscribe"]


def test_the_unsubscribe_link_opens_no_preferences_and_the_reverse(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer
) -> None:
    send(site, smtp_server, "2023-W19")
    preferences = preferences_link(site, smtp_server)
    text = bodies(parse(smtp_server.messages[-1].data))[0]
    unsubscribe = link_in(text, site.url, "unsubscribe")
    swapped = {
        "/unsubscribe/" + preferences.rsplit("/", 1)[1]: 400,
        "/preferences/" + unsubscribe.rsplit("/", 1)[1]: 400,
        "/preferences/" + preferences.rsplit("/", 1)[1][:-1] + "x": 400,  # tampered
    }
    page = browser.new_page()
    for path, status in swapped.items():
        answer = page.goto(site.url + path)
        assert answer is not None and answer.status == status
        page.get_by_role("heading", name="Lien non valide").wait_for()
    page.close()
    assert stored_themes(site)[1:] == ("confirmed", ["add"])


def axe_on(browser: Browser, url: str, scheme: str) -> tuple[Page, list[dict[str, object]]]:
    ctx = context(browser, 375, scheme)
    page = ctx.new_page()
    page.goto(url, wait_until="load")
    return page, axe_violations(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_passes_axe_in_each_state(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer, scheme: str
) -> None:
    send(site, smtp_server, "2023-W19")
    link = preferences_link(site, smtp_server)
    page, plain = axe_on(browser, link, scheme)
    page.get_by_role("button", name="Pause de 8 semaines").click()
    page.get_by_role("status").wait_for()
    paused = axe_violations(page)
    page.context.close()
    bad_page, bad = axe_on(browser, site.url + "/preferences/p.1.2.3", scheme)
    bad_page.context.close()
    assert (plain, paused, bad) == ([], [], [])
