"""The preference centre without a browser: its tokens (purpose-bound, expiring), the
library calls and their consent log, the pause in the audience of a real send to aiosmtpd,
`digest subscribers pause/resume/list`, and the page over real HTTP (GET/HEAD change
nothing, POSTs do, bad tokens get a plain 4xx page, the rate limit)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.config import Config
from digest.delivery.deliver import send_issue
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from digest.subscribers import change_preferences, pause, paused, resume, to_csv
from digest.tokens import (
    CONFIRM,
    PREFERENCES,
    UNSUBSCRIBE,
    BadToken,
    ExpiredToken,
    make_token,
    preferences_url,
    read_token,
)
from tests.deliver_support import FAST, NOW, bodies, make_config, parse, store_issue
from tests.site_look import THEMES
from tests.smtp_server import SmtpServer
from tests.web_support import KEYS, Clock, RunningSite, running_site, write_config

DAYS = timedelta(days=180)


def confirmed(store: Store, email: str, now: datetime, themes: tuple[str, ...] = ()) -> int:
    found = store.create_subscriber(
        email, "Léa", "confirmed", "fr", now, event="add", source="test", themes=themes
    )
    assert found is not None
    return found


# -- tokens --------------------------------------------------------------------------------


def test_a_preferences_token_serves_no_other_purpose_and_expires() -> None:
    token = make_token(KEYS, PREFERENCES, 42, NOW)
    assert token.startswith("p.42.")
    assert read_token(KEYS, token, PREFERENCES, now=NOW + DAYS, max_age=DAYS) == 42
    with pytest.raises(ExpiredToken):
        read_token(KEYS, token, PREFERENCES, now=NOW + DAYS + timedelta(minutes=1), max_age=DAYS)
    unsubscribe, confirm = make_token(KEYS, UNSUBSCRIBE, 42), make_token(KEYS, CONFIRM, 42, NOW)
    for other in (unsubscribe, confirm, "p" + confirm[1:], "c" + token[1:]):
        with pytest.raises(BadToken):
            read_token(KEYS, other, PREFERENCES, now=NOW, max_age=DAYS)
    for purpose in (UNSUBSCRIBE, CONFIRM):
        with pytest.raises(BadToken):
            read_token(KEYS, token, purpose, now=NOW, max_age=DAYS)
    with pytest.raises(BadToken):  # relabelled as unsubscribe, without its time: still no
        read_token(KEYS, "u.42." + token.split(".", 3)[3], UNSUBSCRIBE)


# -- the library -----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "digest.db") as opened:
        yield opened


def test_changes_are_logged_and_only_for_a_confirmed_reader(store: Store) -> None:
    reader = confirmed(store, "lea@example.org", NOW, ("climat",))
    done = change_preferences(
        store, reader, themes=("energie",), name="  Léa  Martin ", now=NOW, source="t", ip="::1"
    )
    found = store.subscriber(reader)
    assert done is True and found is not None
    assert (found.themes, found.name) == (("energie",), "Léa Martin")
    until = pause(store, reader, 8, now=NOW, source="t", ip="::1")
    assert until == NOW + timedelta(weeks=8)
    found = store.subscriber(reader)
    assert found is not None and found.paused_until == until and paused(found, NOW)
    assert not paused(found, until)  # resumes by itself when the pause ends
    assert resume(store, reader, now=NOW, source="t", ip=None) is True
    assert resume(store, reader, now=NOW, source="t", ip=None) is False  # nothing to end
    log = [(r.event, r.themes, r.paused_until) for r in store.consent_log(reader)]
    assert log == [
        ("add", ("climat",), None),
        ("themes", ("energie",), None),
        ("pause", None, until),
        ("resume", None, None),
    ]
    gone = store.create_subscriber("x@example.org", "", "unsubscribed", "fr", NOW, event="x",
                                   source="t")  # fmt: skip
    assert gone is not None
    assert change_preferences(store, gone, themes=(), name="", now=NOW, source="t", ip=None) is None
    assert pause(store, gone, 4, now=NOW, source="t", ip=None) is None
    with pytest.raises(Exception, match="4, 8"):
        pause(store, reader, 5, now=NOW, source="t", ip=None)
    # Leaving ends a pause: a reader who comes back gets the next issue.
    pause(store, reader, 4, now=NOW, source="t", ip=None)
    store.change_status(reader, "unsubscribed", ("confirmed",), NOW, event="u", source="t")
    store.change_status(reader, "confirmed", ("unsubscribed",), NOW, event="c", source="t")
    found = store.subscriber(reader)
    assert found is not None and found.paused_until is None


def test_the_csv_shows_a_running_pause_in_a_last_column(store: Store) -> None:
    reader = confirmed(store, "lea@example.org", NOW)
    confirmed(store, "bob@example.org", NOW)
    pause(store, reader, 4, now=NOW, source="t", ip=None)
    rows = list(csv.DictReader(io.StringIO(to_csv(store.subscribers(), now=NOW))))
    header = to_csv([], now=NOW).strip().split(",")
    assert header[-2:] == ["themes", "paused_until"]
    assert {r["email"]: r["paused_until"] for r in rows} == {
        "bob@example.org": "",
        "lea@example.org": (NOW + timedelta(weeks=4)).isoformat(),
    }
    later = NOW + timedelta(weeks=4, seconds=1)
    rows = list(csv.DictReader(io.StringIO(to_csv(store.subscribers(), now=later))))
    assert {r["paused_until"] for r in rows} == {""}


# -- the pause in a real send ------------------------------------------------------------------


def send(config: Config, store: Store, server: SmtpServer, issue: str, now: datetime) -> None:
    smtp = parse_smtp_url(server.url)
    send_issue(config, store, issue, Clock(now), smtp=smtp, keys=KEYS)


def test_a_paused_reader_is_left_out_until_the_pause_ends(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path)
    with Store(config.store) as store:
        lea = confirmed(store, "lea@example.org", NOW)
        confirmed(store, "bob@example.org", NOW)
        pause(store, lea, 4, now=NOW, source="t", ip=None)
        for week in ("2023-W19", "2023-W24"):
            store_issue(store, issue_id=week)
        # `send --dry-run` counts as the send will: the paused reader is left out.
        assert store.recipients_preview("2023-W19", 10, NOW) == (1, ["bob@example.org"])
        send(config, store, smtp_server, "2023-W19", NOW)
        assert [list(m.rcpt_tos) for m in smtp_server.wait_for(1)] == [["bob@example.org"]]
        # Four weeks later the pause is over: delivery resumes by itself.
        send(config, store, smtp_server, "2023-W24", NOW + timedelta(weeks=4))
        got = sorted(r for m in smtp_server.wait_for(3) for r in m.rcpt_tos)
        assert got == ["bob@example.org", "bob@example.org", "lea@example.org"]


def test_every_message_links_to_its_readers_own_preferences(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = make_config(tmp_path)
    with Store(config.store) as store:
        ids = [confirmed(store, f"{n}@example.org", NOW) for n in ("a", "b")]
        store_issue(store)
        send(config, store, smtp_server, "2023-W19", NOW)
    for received in smtp_server.wait_for(2):
        text, html = bodies(parse(received.data))
        subscriber = ids[["a@example.org", "b@example.org"].index(received.rcpt_tos[0])]
        link = preferences_url(config, subscriber, NOW, KEYS)
        assert link in text and f'href="{link}"' in html
        assert "%%" not in text and "%%preferences_url" not in html
        # List-Unsubscribe is unchanged: the unsubscribe token only.
        header = parse(received.data)["List-Unsubscribe"]
        assert "/unsubscribe/u." in header and "/preferences/" not in header


# -- the command line ----------------------------------------------------------------------


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_path), "subscribers", *args])


def test_pause_and_resume_from_the_command_line(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "https://lettre.example.org")
    assert run(config_path, "add", "lea@example.org").exit_code == 0
    assert run(config_path, "add", "bob@example.org").exit_code == 0
    done = run(config_path, "pause", "lea@example.org", "--weeks", "8")
    assert done.exit_code == 0 and "en pause jusqu’au" in done.output
    table = run(config_path, "list").output
    assert "confirmée, en pause jusqu’au" in table.split("lea@example.org")[1].split("\n")[0]
    rows = csv.DictReader(io.StringIO(run(config_path, "list", "--format", "csv").output))
    paused_until = {r["email"]: r["paused_until"] for r in rows}
    assert paused_until["bob@example.org"] == "" and paused_until["lea@example.org"] != ""
    assert run(config_path, "pause", "lea@example.org", "--weeks", "3").exit_code == 2
    assert run(config_path, "resume", "lea@example.org").exit_code == 0
    assert "en pause" not in run(config_path, "list").output
    assert "rien à faire" in run(config_path, "resume", "lea@example.org").output
    run(config_path, "remove", "bob@example.org")
    refused = run(config_path, "pause", "bob@example.org")
    assert refused.exit_code == 2 and "Traceback" not in refused.output


# -- the page over HTTP ----------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url, extra=THEMES + FAST) as running:
        yield running


@pytest.fixture
def client(site: RunningSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as c:
        yield c


def reader(site: RunningSite, email: str = "claire@cerdd.org") -> tuple[int, str]:
    with Store(site.config.store) as store:
        found = confirmed(store, email, site.clock(), ("climat",))
    return found, f"/preferences/{make_token(KEYS, PREFERENCES, found, site.clock())}"


def test_get_and_head_show_the_page_and_change_nothing(
    site: RunningSite, client: httpx.Client
) -> None:
    found, path = reader(site)
    page = client.get(path)
    assert page.status_code == 200 and "c•••@cerdd.org" in page.text
    assert "claire@cerdd.org" not in page.text
    assert 'value="climat" checked' in page.text and 'value="energie" checked' not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert client.head(path).status_code == 200
    with Store(site.config.store) as store:
        assert [r.event for r in store.consent_log(found)] == ["add"]


def test_posts_change_themes_name_pause_and_unsubscribe(
    site: RunningSite, client: httpx.Client
) -> None:
    found, path = reader(site)
    saved = client.post(
        path, data={"action": "save", "name": "Claire D.", "themes": ["energie", "nope"]}
    )
    assert saved.status_code == 200 and "C’est enregistré" in saved.text
    assert 'value="energie" checked' in saved.text
    paused_page = client.post(path, data={"action": "pause", "weeks": "4"})
    assert "en pause jusqu’au" in paused_page.text and "Reprendre maintenant" in paused_page.text
    assert client.post(path, data={"action": "pause", "weeks": "52"}).status_code == 400
    assert client.post(path, data={"action": "drop tables"}).status_code == 400
    with Store(site.config.store) as store:
        current = store.subscriber(found)
        assert current is not None
        assert (current.themes, current.name) == (("energie",), "Claire D.")
        assert current.paused_until == site.clock() + timedelta(weeks=4)
    resumed = client.post(path, data={"action": "resume"})
    assert "La pause est terminée" in resumed.text
    left = client.post(path, data={"action": "unsubscribe"})
    assert left.status_code == 200 and "Désinscription enregistrée" in left.text
    with Store(site.config.store) as store:
        events = [(r.event, r.source) for r in store.consent_log(found)]
        current = store.subscriber(found)
    assert current is not None and current.status == "unsubscribed"
    assert events == [
        ("add", "test"),
        ("themes", "preferences"),
        ("pause", "preferences"),
        ("resume", "preferences"),
        ("unsubscribe", "preferences"),
    ]
    # The page of a reader who left says so, and changes nothing.
    after = client.post(path, data={"action": "save", "themes": ["climat"]})
    assert "Déjà désinscrit" in after.text
    assert "Déjà désinscrit" in client.get(path).text


def test_bad_tokens_get_a_plain_page_and_change_nothing(
    site: RunningSite, client: httpx.Client
) -> None:
    found, path = reader(site)
    token = path.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_id = token.replace(f"p.{found}.", f"p.{found + 1}.")
    cases = {
        tampered: 400,
        other_id: 400,
        make_token(KEYS, UNSUBSCRIBE, found): 400,  # the unsubscribe token opens no preferences
        make_token(KEYS, CONFIRM, found, site.clock()): 400,
        "x" * 3000: 400,
        make_token(KEYS, PREFERENCES, found, site.clock() - DAYS - timedelta(hours=1)): 410,
    }
    for bad, status in cases.items():
        for answer in (
            client.get(f"/preferences/{bad}"),
            client.post(f"/preferences/{bad}", data={"action": "unsubscribe"}),
        ):
            assert answer.status_code == status, bad
            assert "Traceback" not in answer.text and "<h1>" in answer.text
    assert "plus valable" in client.get(f"/preferences/{list(cases)[-1]}").text
    # ... and the preferences token unsubscribes no one on the unsubscribe page.
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    with Store(site.config.store) as store:
        assert [r.event for r in store.consent_log(found)] == ["add"]


def test_changes_are_rate_limited_but_leaving_never_is(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    limits = THEMES + "site:\n  per_ip: 2\n"
    with (
        running_site(tmp_path, smtp_server.url, extra=limits) as site,
        httpx.Client(base_url=site.url, timeout=30) as client,
    ):
        found, path = reader(site)
        answers = [client.post(path, data={"action": "resume"}).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert client.post(path, data={"action": "unsubscribe"}).status_code == 200
        with Store(site.config.store) as store:
            current = store.subscriber(found)
        assert current is not None and current.status == "unsubscribed"


def test_the_english_page(tmp_path: Path, smtp_server: SmtpServer) -> None:
    with (
        running_site(tmp_path, smtp_server.url, extra=THEMES, language="en") as site,
        httpx.Client(base_url=site.url, timeout=30) as client,
    ):
        _, path = reader(site)
        page = client.post(path, data={"action": "pause", "weeks": "8"})
    assert "Your preferences" in page.text and "paused until" in page.text
    expected = (site.clock() + timedelta(weeks=8)).astimezone(UTC)
    assert str(expected.year) in page.text
