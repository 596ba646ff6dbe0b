"""The console's issue page against real parts: uvicorn on 127.0.0.1, a SQLite store, the
loopback HTTP server for the feed and for the page a link names, the overrides file on disk."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from digest.config import load_config
from digest.editing import overrides_file as files
from digest.editing.links import summary_of
from digest.store import Store
from tests.console_support import hidden, sign_in
from tests.http_server import FeedServer
from tests.issue_support import HOSTILE, PAGE, WEEK, issue_site, overrides_path
from tests.smtp_server import SmtpServer
from tests.web_support import RunningSite

PAGE_URL = f"/admin/issues/{WEEK}"
FETE = "https://partenaire.example.org/fete"
VELO = "https://partenaire.example.org/velo"


@pytest.fixture
def site(tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with issue_site(tmp_path, feed_server, smtp_server.url) as running:
        yield running


@pytest.fixture
def client(site: RunningSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=60) as c:
        assert sign_in(c).status_code == 303
        yield c


def _data(site: RunningSite) -> dict[str, object]:
    with Store(site.config.store) as store:
        stored = store.issue(WEEK)
        assert stored is not None
        return dict(json.loads(stored.data))


def _titles(section: object) -> list[str]:
    assert isinstance(section, dict)
    return [item["title"] for item in section["items"]]


def _status(site: RunningSite) -> str:
    with Store(site.config.store) as store:
        stored = store.issue(WEEK)
        assert stored is not None
        return stored.status


def _item_post(client: httpx.Client, action: str, ref: str, target: str = "") -> httpx.Response:
    page = client.get(PAGE_URL).text
    form = {
        "csrf": hidden(page, "csrf"),
        "fingerprint": hidden(page, "fingerprint"),
        "ref": ref,
        "action": action,
        "target": target,
    }
    return client.post(PAGE_URL + "/items", data=form)


# -- the page and its preview ------------------------------------------------------------


def test_the_page_shows_items_by_section_with_their_reason_and_escapes_titles(
    client: httpx.Client,
) -> None:
    page = client.get(PAGE_URL)
    assert page.status_code == 200
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    text = page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Fête" in text
    assert "<script>" not in text
    assert "Participation citoyenne" in text and "Journée de la concertation" in text
    assert "Récits" in text and "Partenaire" in text
    assert re.search(r"jeudi\s7\smai\s2026", text)
    assert "en-tête du récap" in text and "mot-clé &#39;vélo&#39;" in text  # the reasons
    assert 'sandbox=""' in text


def test_the_preview_route_runs_nothing_and_is_framed_by_the_console_only(
    site: RunningSite, client: httpx.Client
) -> None:
    html = client.get(PAGE_URL + "/preview")
    assert html.status_code == 200
    policy = html.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "sandbox" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert html.headers["x-frame-options"] == "SAMEORIGIN"
    with Store(site.config.store) as store:
        stored = store.issue(WEEK)
        assert stored is not None
    assert html.text == stored.html
    text = client.get(PAGE_URL + "/preview?part=text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == stored.text
    assert client.get("/admin/issues/2026-W30").status_code == 404
    assert client.get("/admin/issues/nonsense").status_code == 404


def test_the_width_switch_works_without_script(client: httpx.Client) -> None:
    assert 'width="600"' in client.get(PAGE_URL).text
    assert 'width="375"' in client.get(PAGE_URL + "?view=375").text
    assert "preview?part=text" in client.get(PAGE_URL + "?view=text").text


# -- edits: the overrides file, then the rebuilt issue --------------------------------------


def test_pin_exclude_move_and_order_write_the_file_and_rebuild_the_issue(
    site: RunningSite, client: httpx.Client
) -> None:
    answer = _item_post(client, "pin", VELO)
    assert answer.status_code == 303, answer.text
    assert "done=pin" in answer.headers["location"]
    assert _titles(_data(site)["featured"]) == ["Vélo partagé à Arras"]
    assert _item_post(client, "pin", "2026-05-05-concertation.md").status_code == 303
    assert _item_post(client, "up", "2026-05-05-concertation.md").status_code == 303
    featured = _titles(_data(site)["featured"])
    assert featured == ["Journée de la concertation", "Vélo partagé à Arras"]
    assert _item_post(client, "exclude", FETE).status_code == 303
    all_titles = [t for s in _data(site)["sections"] for t in _titles(s)]  # type: ignore[union-attr]
    assert HOSTILE not in all_titles
    assert _item_post(client, "release", "2026-05-05-concertation.md").status_code == 303
    assert _item_post(client, "move", VELO, "participation").status_code == 303
    sections = {s["theme"]: _titles(s) for s in _data(site)["sections"]}  # type: ignore[union-attr]
    assert "Vélo partagé à Arras" in sections["participation"]
    written = overrides_path(site).read_text(encoding="utf-8")
    assert "exclude:" in written and FETE in written and "move:" in written
    page = client.get(PAGE_URL).text
    assert "Réintégrer" in page  # the excluded item can come back
    assert "a exclu" in page and "camille@cerdd.example.org" in page  # the history


def test_an_edit_keeps_what_the_file_already_had(site: RunningSite, client: httpx.Client) -> None:
    path = overrides_path(site)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\ntitle: Numéro spécial\npin: []\n---\nBonjour **à tous**.\n", "utf-8")
    assert _item_post(client, "exclude", VELO).status_code == 303
    written = path.read_text(encoding="utf-8")
    assert "title: Numéro spécial" in written
    assert written.rstrip().endswith("Bonjour **à tous**.")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file


def test_subject_preheader_and_edito_are_saved_and_previewed(
    site: RunningSite, client: httpx.Client
) -> None:
    page = client.get(PAGE_URL).text
    form = {
        "csrf": hidden(page, "csrf"),
        "fingerprint": hidden(page, "fingerprint"),
        "subject": "Une semaine au fil des rivières",
        "preheader": "Fêtes, vélos et concertation",
        "edito": "Bonjour **à tous** <img src=x onerror=alert(1)>",
        "action": "preview",
    }
    preview = client.post(PAGE_URL + "/texts", data=form)
    assert preview.status_code == 200
    shown = preview.text.split('class="edito-body">')[1].split("</div>")[0]
    assert "<strong>à tous</strong>" in shown, shown
    assert "<img" not in shown  # raw HTML stays text, through the email's sanitizer
    assert not overrides_path(site).exists()  # a preview writes nothing
    saved = client.post(PAGE_URL + "/texts", data={**form, "action": "save"})
    assert saved.status_code == 303, saved.text
    data = _data(site)
    assert data["subject"] == "Une semaine au fil des rivières"
    assert data["preheader"] == "Fêtes, vélos et concertation"
    assert "à tous" in str(data["edito"])
    written = overrides_path(site).read_text(encoding="utf-8")
    assert "subject: Une semaine au fil des rivières" in written


def test_a_file_changed_behind_the_page_is_not_overwritten_and_the_input_is_kept(
    site: RunningSite, client: httpx.Client
) -> None:
    page = client.get(PAGE_URL).text
    path = overrides_path(site)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\nsubject: Écrit dans l'éditeur\n---\nL'édito de Dominique.\n", "utf-8")
    form = {
        "csrf": hidden(page, "csrf"),
        "fingerprint": hidden(page, "fingerprint"),
        "subject": "Mon objet",
        "preheader": "",
        "edito": "Mon édito à moi",
        "action": "save",
    }
    answer = client.post(PAGE_URL + "/texts", data=form)
    assert answer.status_code == 409
    assert "a changé depuis" in answer.text
    assert "Mon édito à moi</textarea>" in answer.text
    assert 'value="Mon objet"' in answer.text
    assert "L&#39;édito de Dominique." in answer.text or "L'édito de Dominique." in answer.text
    assert path.read_text(encoding="utf-8").endswith("L'édito de Dominique.\n")
    stale_pin = client.post(
        PAGE_URL + "/items",
        data={
            "csrf": form["csrf"],
            "fingerprint": form["fingerprint"],
            "ref": VELO,
            "action": "pin",
        },
    )
    assert stale_pin.status_code == 409
    assert "pin" not in path.read_text(encoding="utf-8")


def test_an_edit_withdraws_an_approval_and_says_so(site: RunningSite, client: httpx.Client) -> None:
    with Store(site.config.store) as store:
        store.set_issue_status(WEEK, "approved")
    answer = _item_post(client, "exclude", VELO)
    assert "withdrawn=1" in answer.headers["location"]
    page = client.get(answer.headers["location"]).text
    assert "approbation de ce numéro a été retirée" in page
    assert _status(site) == "built"


def test_a_sent_issue_is_not_edited(site: RunningSite, client: httpx.Client) -> None:
    page = client.get(PAGE_URL).text
    with Store(site.config.store) as store:
        store.set_issue_status(WEEK, "sent")
    form = {"csrf": hidden(page, "csrf"), "fingerprint": "absent", "ref": VELO, "action": "pin"}
    answer = client.post(PAGE_URL + "/items", data=form)
    assert answer.status_code == 400
    assert not overrides_path(site).exists()
    assert "Épingler" not in client.get(PAGE_URL).text


def test_posts_need_the_sessions_csrf_token_and_get_changes_nothing(
    site: RunningSite, client: httpx.Client
) -> None:
    page = client.get(PAGE_URL).text
    form = {"fingerprint": hidden(page, "fingerprint"), "ref": VELO, "action": "pin"}
    for route in ("/items", "/texts", "/links", "/rebuild"):
        assert client.post(PAGE_URL + route, data=form).status_code == 403
        assert client.post(PAGE_URL + route, data={**form, "csrf": "x"}).status_code == 403
    assert client.get(PAGE_URL + "/items", params=form).status_code == 405
    assert client.head(PAGE_URL).status_code == 200
    assert not overrides_path(site).exists()
    anonymous = httpx.get(site.url + PAGE_URL + "/preview", follow_redirects=False)
    assert anonymous.status_code == 303


# -- Ajouter un lien -------------------------------------------------------------------------


def _link(client: httpx.Client, **fields: str) -> httpx.Response:
    page = client.get(PAGE_URL).text
    return client.post(PAGE_URL + "/links", data={"csrf": hidden(page, "csrf"), **fields})


def test_a_link_becomes_a_recap_with_the_pages_own_title(
    site: RunningSite, client: httpx.Client, feed_server: FeedServer
) -> None:
    url = feed_server.add("atelier", PAGE, "text/html; charset=utf-8")
    answer = _link(client, url=url, title="", summary="", theme="mobilite")
    assert answer.status_code == 303, answer.text
    recaps = sorted((site.config.folder / "recaps").glob("2026-05-10-*.md"))
    assert [p.name for p in recaps] == ["2026-05-10-atelier-climat-sols.md"]
    written = recaps[0].read_text(encoding="utf-8")
    assert "title: Atelier climat & sols" in written and "theme: mobilite" in written
    assert "summary: Un atelier pour parler des sols vivants." in written
    sections = {s["theme"]: _titles(s) for s in _data(site)["sections"]}  # type: ignore[union-attr]
    assert "Atelier climat & sols" in sections["mobilite"]
    assert "a ajouté le lien" in client.get(PAGE_URL).text


def test_a_link_whose_page_fails_asks_for_a_title_and_keeps_the_input(
    site: RunningSite, client: httpx.Client, feed_server: FeedServer
) -> None:
    url = feed_server.url("/status/404")
    answer = _link(client, url=url, title="", summary="Mon résumé", theme="")
    assert answer.status_code == 200
    assert "pas pu être lue" in answer.text, answer.text[-3000:]
    assert "Mon résumé</textarea>" in answer.text and url in answer.text
    assert not list((site.config.folder / "recaps").glob("2026-05-10-*.md"))
    typed = _link(client, url=url, title="Mon titre", summary="Mon résumé", theme="")
    assert typed.status_code == 303
    assert "Mon titre" in [t for s in _data(site)["sections"] for t in _titles(s)]  # type: ignore[union-attr]
    assert "lien" in _link(client, url="javascript:alert(1)", title="x").text


# -- Reconstruire ------------------------------------------------------------------------------


def test_rebuild_runs_in_the_background_and_shows_its_progress(
    site: RunningSite, client: httpx.Client, feed_server: FeedServer
) -> None:
    with Store(site.config.store) as store:
        store.set_issue_status(WEEK, "approved")
    page = client.get(PAGE_URL).text
    fetched = len(feed_server.headers_for("/inline?body=partenaire"))
    answer = client.post(PAGE_URL + "/rebuild", data={"csrf": hidden(page, "csrf")})
    assert answer.status_code == 303
    assert answer.headers["location"] == PAGE_URL + "/rebuild"
    for _ in range(600):  # the page's script refreshes it each second; a test polls
        progress = client.get(PAGE_URL + "/rebuild").text
        if "data-refresh" not in progress:
            break
        assert "Lecture des sources" in progress and "progress.js" in progress
        time.sleep(0.05)
    assert "Numéro reconstruit." in progress and "progress.js" not in progress
    assert "approbation de ce numéro a été retirée" in progress
    assert _status(site) == "built"
    assert len(feed_server.headers_for("/inline?body=partenaire")) == fetched + 1  # fresh
    history = client.get(PAGE_URL).text
    assert "a lancé une reconstruction" in history and "reconstruction terminée" in history


# -- the library alone -------------------------------------------------------------------------


def test_the_library_keeps_a_yaml_file_yaml_and_refuses_a_stale_fingerprint(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    from tests.issue_support import write_site_config

    config = load_config(write_site_config(tmp_path, "http://127.0.0.1", feed_server.url("/x")))
    folder = config.issue.overrides
    assert folder is not None
    folder.mkdir(parents=True)
    (folder / f"{WEEK}.yaml").write_text("edito: Bonjour\npin:\n- https://a.example/1\n", "utf-8")
    current = files.open_overrides(config, WEEK)
    changed = files.edit(
        config, WEEK, lambda v: files.pin(v, "https://a.example/2"), current.fingerprint
    )
    assert changed.path.suffix == ".yaml"
    assert changed.values["pin"] == ["https://a.example/1", "https://a.example/2"]
    assert changed.edito == "Bonjour"
    assert "edito: Bonjour" in changed.path.read_text(encoding="utf-8")
    with pytest.raises(files.EditConflict):
        files.edit(
            config, WEEK, lambda v: files.exclude(v, "https://a.example/1"), current.fingerprint
        )
    shifted = files.shift(changed.values, "https://a.example/2?utm_source=x", -1)
    assert shifted["pin"] == ["https://a.example/2", "https://a.example/1"]


def test_page_summaries_prefer_og_then_twitter_then_the_title() -> None:
    assert summary_of(PAGE.decode()).title == "Atelier climat & sols"
    twitter = '<meta name="twitter:title" content="Par Twitter"><title>Balise</title>'
    assert summary_of(twitter).title == "Par Twitter"
    assert summary_of("<title> Seule &amp; unique </title>").title == "Seule & unique"
    assert summary_of("<p>rien</p>") == summary_of("")


def test_excluded_items_are_named_by_their_title_escaped_and_stay_out_of_the_issue(
    site: RunningSite, client: httpx.Client
) -> None:
    assert _item_post(client, "exclude", FETE).status_code == 303
    assert _data(site)["excluded"] == [{"ref": FETE, "title": HOSTILE, "source": "Partenaire"}]
    with Store(site.config.store) as store:
        stored = store.issue(WEEK)
        assert stored is not None
    for part in (stored.html, stored.text, stored.web):  # the email and the web page
        assert FETE not in part and "Fête de l" not in part
    # An excluded name the feeds no longer have (a text editor wrote it): its name is all
    # the page can show.
    gone = "https://partenaire.example.org/disparu"
    overrides_path(site).write_text(f"---\nexclude:\n  - {FETE}\n  - {gone}\n---\n", "utf-8")
    page = client.get(PAGE_URL).text
    excluded = page.split("Exclus de ce numéro", 1)[1].split("</ul>", 1)[0]
    assert '<p class="item-title">&lt;script&gt;alert(1)&lt;/script&gt; Fête de l&#39;eau</p>' in (
        excluded
    )
    assert f'Partenaire · <span class="ref">{FETE}</span>' in excluded
    assert f'<span class="ref">{gone}</span>' in excluded and "<script>" not in page
    assert excluded.count("Réintégrer") == 2
