"""Theme subscriptions, chosen and stored: the subscribe form's checkboxes (in headless
Chromium and as hostile POSTs), and `digest subscribers add --themes`, `import` with a
themes column, `list --theme` and the CSV's themes column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from playwright.sync_api import Browser

from digest.cli import cli
from digest.models import Subscriber
from digest.store import Store
from digest.tokens import CONFIRM, make_token
from tests.cli_support import digest
from tests.site_look import THEMES, axe_violations, context
from tests.smtp_server import SmtpServer
from tests.web_support import KEYS, RunningSite, link_in, running_site, write_config

VALID = "climat, energie, participation, mobilite_douce"


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url, extra=THEMES) as running:
        yield running


@pytest.fixture
def client(site: RunningSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as c:
        yield c


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, "https://lettre.example.org", THEMES)


def stored(config_store: Path, email: str) -> Subscriber:
    with Store(config_store) as store:
        found = store.subscriber_by_email(email)
    assert found is not None
    return found


def consent(config_store: Path, email: str) -> list[tuple[str, str, tuple[str, ...] | None]]:
    with Store(config_store) as store:
        return [
            (r.event, r.source, r.themes) for r in store.consent_log(stored(config_store, email).id)
        ]


# -- the form ----------------------------------------------------------------------------


@pytest.mark.browser
def test_a_reader_chooses_two_themes_in_the_form_and_confirms(
    browser: Browser, site: RunningSite, smtp_server: SmtpServer
) -> None:
    page = browser.new_page()
    page.goto(site.url + "/")
    group = page.get_by_role("group", name="Les thèmes qui vous intéressent")
    group.get_by_label("Climat").check()
    group.get_by_label("Participation citoyenne").check()
    page.get_by_label("Votre adresse électronique").fill("lea@example.org")
    page.get_by_role("button", name="Je m’inscris").click()
    page.get_by_role("heading", name="Vérifiez votre boîte de réception").wait_for()
    pending = stored(site.config.store, "lea@example.org")
    # Chosen, not yet applied: nothing is sent to a pending address anyway.
    assert (pending.status, pending.themes) == ("pending", ())
    assert pending.pending_themes == ("climat", "participation")

    body = smtp_server.wait_for(1)[0].message.get_content()
    page.goto(link_in(body, site.url, "confirm"))
    page.get_by_role("button", name="Je confirme mon inscription").click()
    page.get_by_role("heading", name="Inscription confirmée").wait_for()
    page.close()
    found = stored(site.config.store, "lea@example.org")
    assert (found.status, found.themes, found.pending_themes) == (
        "confirmed",
        ("climat", "participation"),
        None,
    )
    assert consent(site.config.store, "lea@example.org") == [
        ("subscribe", "web", None),
        ("confirm", "web", ("climat", "participation")),
    ]


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/", "/embed"])
def test_the_themes_in_the_form_pass_axe(browser: Browser, site: RunningSite, path: str) -> None:
    ctx = context(browser, 375)
    page = ctx.new_page()
    page.goto(site.url + path, wait_until="load")
    boxes = page.locator("fieldset input[type=checkbox][name=themes]")
    assert boxes.count() == 4
    assert page.locator("fieldset legend").first.inner_text().startswith("Les thèmes")
    violations = axe_violations(page)
    ctx.close()
    assert violations == []


def subscribe(client: httpx.Client, email: str, themes: list[str]) -> httpx.Response:
    return client.post("/subscribe", data={"email": email, "website": "", "themes": themes})


def test_unknown_and_very_long_theme_values_are_ignored(
    client: httpx.Client, site: RunningSite
) -> None:
    answer = subscribe(client, "a@example.org", ["climat", "nope", "x" * 5000, "climat"])
    assert answer.status_code == 200
    assert stored(site.config.store, "a@example.org").pending_themes == ("climat",)
    # Only unknown ids (a form copied before a theme was removed): every theme.
    assert subscribe(client, "b@example.org", ["gone", "<script>"]).status_code == 200
    assert stored(site.config.store, "b@example.org").pending_themes == ()


def test_too_many_checkboxes_are_refused_without_a_traceback(
    client: httpx.Client, site: RunningSite
) -> None:
    many = subscribe(client, "a@example.org", ["climat"] * 10_000)  # over the body limit
    fewer = subscribe(client, "b@example.org", ["climat"] * 40)  # under it, over the fields
    assert (many.status_code, fewer.status_code) == (413, 400)
    for answer in (many, fewer):
        assert "Traceback" not in answer.text
    with Store(site.config.store) as store:
        assert store.subscribers() == []


def test_a_refused_address_shows_the_themes_still_ticked(client: httpx.Client) -> None:
    answer = subscribe(client, "pas une adresse", ["energie"])
    assert answer.status_code == 400
    assert 'value="energie" checked' in answer.text
    assert 'value="climat" checked' not in answer.text


def test_a_new_subscription_changes_themes_only_once_confirmed(
    client: httpx.Client, site: RunningSite
) -> None:
    with Store(site.config.store) as store:
        left = store.create_subscriber(
            "left@example.org", "", "unsubscribed", "fr", site.clock(), event="x", source="web",
            themes=("climat",),
        )  # fmt: skip
        store.create_subscriber(
            "reader@example.org", "", "confirmed", "fr", site.clock(), event="x", source="web",
            themes=("climat",),
        )  # fmt: skip
    assert left is not None
    subscribe(client, "left@example.org", ["energie", "participation"])
    waiting = stored(site.config.store, "left@example.org")
    assert (waiting.themes, waiting.pending_themes) == (("climat",), ("energie", "participation"))
    token = make_token(KEYS, CONFIRM, left, site.clock())
    assert client.post(f"/confirm/{token}").status_code == 200
    assert stored(site.config.store, "left@example.org").themes == ("energie", "participation")
    # A form anyone can send never changes a confirmed reader's themes.
    subscribe(client, "reader@example.org", ["energie"])
    reader = stored(site.config.store, "reader@example.org")
    assert (reader.themes, reader.pending_themes) == (("climat",), None)


# -- the command line --------------------------------------------------------------------


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_path), "subscribers", *args])


def db(config_path: Path) -> Path:
    return config_path.parent / "digest.db"


def test_add_with_themes_stores_and_logs_them(config_path: Path) -> None:
    assert run(config_path, "add", "a@example.org", "--themes", "energie,climat").exit_code == 0
    assert stored(db(config_path), "a@example.org").themes == ("climat", "energie")
    assert run(config_path, "add", "a@example.org", "--themes", "participation").exit_code == 0
    assert run(config_path, "add", "a@example.org").exit_code == 0  # no --themes: kept
    assert stored(db(config_path), "a@example.org").themes == ("participation",)
    assert run(config_path, "add", "b@example.org").exit_code == 0
    assert stored(db(config_path), "b@example.org").themes == ()
    assert consent(db(config_path), "a@example.org") == [
        ("add", "cli", ("climat", "energie")),
        ("themes", "cli", ("participation",)),
    ]


def test_add_with_an_unknown_theme_names_the_valid_ones(config_path: Path) -> None:
    done = digest(config_path, "subscribers", "add", "a@example.org", "--themes", "climat,nope")
    assert done.returncode == 2
    assert "nope" in done.stderr and VALID in done.stderr and "Traceback" not in done.stderr
    with Store(db(config_path)) as store:
        assert store.subscribers() == []


def test_import_reads_a_themes_column(config_path: Path, tmp_path: Path) -> None:
    run(config_path, "add", "old@example.org", "--themes", "climat")
    path = tmp_path / "list.csv"
    path.write_text(
        "email,name,themes\n"
        "a@example.org,Anne,climat energie\n"
        "b@example.org,Bob,climat nope\n"
        "c@example.org,Camille,\n"
        "old@example.org,Old,energie\n",
        encoding="utf-8",
    )
    done = digest(config_path, "subscribers", "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "ligne 3" in done.stderr and "nope" in done.stderr and VALID in done.stderr
    with Store(db(config_path)) as store:
        found = {s.email: s.themes for s in store.subscribers()}
    # The bad line writes nothing; an address already confirmed keeps what it chose.
    assert found == {
        "a@example.org": ("climat", "energie"),
        "c@example.org": (),
        "old@example.org": ("climat",),
    }
    assert consent(db(config_path), "a@example.org") == [
        ("import", "import", ("climat", "energie"))
    ]


def test_list_has_a_themes_column_and_filters_by_theme(config_path: Path, tmp_path: Path) -> None:
    run(config_path, "add", "all@example.org")
    run(config_path, "add", "climat@example.org", "--themes", "climat")
    run(config_path, "add", "two@example.org", "--themes", "mobilite_douce,energie")
    with Store(db(config_path)) as store:  # an id feeds.yaml no longer has, one `_` away
        store.set_themes(stored(db(config_path), "all@example.org").id, (), store_now(), source="t")
        other = store.create_subscriber(
            "gone@example.org", "", "confirmed", "fr", store_now(), event="x", source="t",
            themes=("mobiliteXdouce",),
        )  # fmt: skip
    assert other is not None
    listed = run(config_path, "list", "--format", "csv")
    rows = {r["email"]: r["themes"] for r in csv.DictReader(io.StringIO(listed.output))}
    assert rows == {
        "all@example.org": "",
        "climat@example.org": "climat",
        "gone@example.org": "mobiliteXdouce",
        "two@example.org": "energie mobilite_douce",
    }

    def emails(theme: str) -> list[str]:
        listed = run(config_path, "list", "--format", "csv", "--theme", theme)
        assert listed.exit_code == 0, listed.output
        return [r["email"] for r in csv.DictReader(io.StringIO(listed.output))]

    assert emails("climat") == ["all@example.org", "climat@example.org"]
    assert emails("mobilite_douce") == ["all@example.org", "two@example.org"]
    unknown = digest(config_path, "subscribers", "list", "--theme", "nope")
    assert unknown.returncode == 2 and VALID in unknown.stderr


def test_an_export_imports_back_with_its_themes(config_path: Path, tmp_path: Path) -> None:
    run(config_path, "add", "a@example.org", "--themes", "climat,participation")
    run(config_path, "add", "b@example.org")
    for excel in ([], ["--excel"]):
        exported = digest(config_path, "subscribers", "export", *excel)
        path = tmp_path / "export.csv"
        path.write_text(exported.stdout, encoding="utf-8")
        fresh = tmp_path / f"fresh{len(excel)}"
        fresh.mkdir()
        other = write_config(fresh, "https://lettre.example.org", THEMES)
        assert digest(other, "subscribers", "import", str(path)).returncode == 0
        with Store(db(other)) as store:
            found = {s.email: s.themes for s in store.subscribers()}
        assert found == {"a@example.org": ("climat", "participation"), "b@example.org": ()}


def store_now() -> datetime:
    return datetime(2026, 5, 11, 9, 0, tzinfo=UTC)
