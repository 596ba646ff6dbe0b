"""Subscribers: address rules, the store's schema and the `digest subscribers` commands."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.i18n import status_label
from digest.store import Store
from digest.subscribers import STATUSES, BadAddress, email_hash, normalise_email, parse_csv
from tests.web_support import write_config

NOW = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, "https://lettre.example.org")


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_path), "subscribers", *args])


def process(
    config_path: Path, *args: str, given: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`digest subscribers ...` as a real process, `given` on its stdin (None: no stdin)."""
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config_path), "subscribers", *args],
        input=given,
        stdin=subprocess.DEVNULL if given is None else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


def set_status(config_path: Path, email: str, status: str) -> None:
    with Store(config_path.parent / "digest.db") as store, store.transaction() as db:
        db.execute("UPDATE subscribers SET status = ? WHERE email = ?", (status, email))


def statuses(config_path: Path) -> dict[str, str]:
    with Store(config_path.parent / "digest.db") as store:
        return {s.email: s.status for s in store.subscribers()}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Camille.Martin@Example.ORG", "camille.martin@example.org"),
        ("  lea@example.org ", "lea@example.org"),
        ("jose@bücher.example", "jose@xn--bcher-kva.example"),
    ],
)
def test_addresses_are_normalised(given: str, expected: str) -> None:
    assert normalise_email(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "a@b\r\nBcc: x@example.org",
        "Léa <lea@example.org>",
        "lea@example.org, paul@example.org",
        "x" * 300 + "@example.org",
        "no-at-sign",
        "josé@example.org",  # a non-ASCII mailbox needs SMTPUTF8 all along the way
    ],
)
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(BadAddress):
        normalise_email(bad)


def test_schema_has_the_subscriber_tables(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        tables = {
            r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        outbox = [r[1] for r in store.db.execute("PRAGMA table_info(outbox)")]
        version = store.schema_version
    assert {"subscribers", "consent_log", "outbox", "issues"} <= tables
    assert outbox == [
        "issue_id", "subscriber_id", "status", "message_id", "attempts",
        "next_attempt_at", "last_error", "updated_at",
        "created_at", "bounced",  # migration 3 (delivery)
        "cut",  # migration 8 (cuts per reader)
        "gave_up",  # migration 10 (retrying the failed ones)
    ]  # fmt: skip
    with Store(tmp_path / "s.db") as again:  # reopening migrates nothing twice
        assert again.schema_version == version


def test_status_changes_only_from_allowed_states(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        sid = store.create_subscriber(
            "a@example.org", "", "pending", "fr", NOW, event="subscribe", source="web"
        )
        assert sid is not None
        assert store.create_subscriber(
            "a@example.org", "", "pending", "fr", NOW, event="subscribe", source="web"
        ) is None  # fmt: skip
        assert not store.change_status(
            sid, "confirmed", ("unsubscribed",), NOW, event="confirm", source="t"
        )
        assert store.change_status(sid, "confirmed", ("pending",), NOW, event="c", source="t")
        found = store.subscriber(sid)
        assert found is not None and found.confirmed_at == NOW and found.status == "confirmed"


def test_add_list_remove_and_csv_header(config_path: Path) -> None:
    assert run(config_path, "add", "Lea@Example.org", "--name", "Léa").exit_code == 0
    assert run(config_path, "add", "paul@example.org").exit_code == 0
    listed = run(config_path, "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(listed.output)))
    assert listed.output.startswith("email,status,")
    assert [(r["email"], r["status"], r["name"]) for r in rows] == [
        ("lea@example.org", "confirmed", "Léa"),
        ("paul@example.org", "confirmed", ""),
    ]
    removed = run(config_path, "remove", "paul@example.org")
    assert removed.exit_code == 0 and removed.output == "paul@example.org : désinscrite\n"
    table = run(config_path, "list", "--status", "unsubscribed")
    assert "paul@example.org" in table.output and "lea@example.org" not in table.output
    assert statuses(config_path) == {
        "lea@example.org": "confirmed",
        "paul@example.org": "unsubscribed",
    }


def test_import_tolerates_bom_semicolons_and_reports_bad_lines(
    config_path: Path, tmp_path: Path
) -> None:
    run(config_path, "add", "pending@example.org")
    with Store(config_path.parent / "digest.db") as store:
        store.create_subscriber(
            "left@example.org", "", "unsubscribed", "fr", NOW, event="x", source="web"
        )
    text = (
        "\ufeffemail;nom\r\n"
        "anne@example.org;Anne Dupont\r\n"
        "pas une adresse;Paul\r\n"
        "\r\n"
        "BOB@example.org\r\n"
        "Camille <c@example.org>;Camille\r\n"
        "left@example.org;Parti\r\n"
        "pending@example.org;\r\n"
    )
    path = tmp_path / "liste.csv"
    path.write_bytes(text.encode("utf-8"))
    result = CliRunner().invoke(cli, ["--config", str(config_path), "subscribers", "import",
                                      str(path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ligne 3 : 'pas une adresse' : indiquez l'adresse seule" in result.output
    assert "ligne 6 : 'Camille <c@example.org>'" in result.output
    assert "ligne 7 : left@example.org est désinscrite, laissée en l'état" in result.output
    assert result.output.endswith(
        "2 ajoutées, 0 confirmée, 1 inchangée, 1 laissée en l'état, 2 lignes invalides\n"
    )
    assert statuses(config_path) == {
        "anne@example.org": "confirmed",
        "bob@example.org": "confirmed",
        "left@example.org": "unsubscribed",
        "pending@example.org": "confirmed",
    }
    with Store(config_path.parent / "digest.db") as store:
        anne = store.subscriber_by_email("anne@example.org")
        assert anne is not None and anne.name == "Anne Dupont"
        assert [(r.event, r.source) for r in store.consent_log(anne.id)] == [("import", "import")]


def test_parse_csv_with_commas_and_no_header() -> None:
    text = 'a@example.org,A\nb@example.org,"Line\nbreak"\n,\nbad,B\n'
    rows, problems = parse_csv(text)
    assert [row[:3] for row in rows] == [
        (1, "a@example.org", "A"),
        (3, "b@example.org", "Line break"),
    ]
    assert problems == ["ligne 5 : 'bad' : adresse électronique non valide : "
                        "An email address must have an @-sign."]  # fmt: skip


def test_the_name_column_is_found_by_its_header() -> None:
    exported = "email,status,name,language\na@example.org,confirmed,Léa Dubois,fr\n"
    assert parse_csv(exported)[0] == [(2, "a@example.org", "Léa Dubois", None)]
    assert parse_csv("Adresse;Nom\nb@example.org;Jean\n")[0] == [(2, "b@example.org", "Jean", None)]
    assert parse_csv("email,status,lang\nc@example.org,ok,fr\n")[0] == [
        (2, "c@example.org", "", None)
    ]


def test_an_export_imports_back_with_its_names(config_path: Path, tmp_path: Path) -> None:
    run(config_path, "add", "lea@example.org", "--name", "Léa Dubois")
    exported = tmp_path / "export.csv"
    exported.write_text(run(config_path, "export").output, encoding="utf-8")
    run(config_path, "erase", "lea@example.org", "--yes")
    run(config_path, "import", str(exported))
    rows = list(csv.DictReader(io.StringIO(run(config_path, "export").output)))
    assert [(r["email"], r["name"]) for r in rows] == [("lea@example.org", "Léa Dubois")]


def test_only_the_excel_export_guards_formulas(config_path: Path) -> None:
    """The plain export is what scripts read: the name as stored. (It was guarded too, which
    made an export import back as something else: issue 10.)"""
    run(config_path, "add", "x@example.org", "--name", '=HYPERLINK("http://evil")')
    exported = run(config_path, "export").output
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows[0]["name"] == '=HYPERLINK("http://evil")'
    excel = run(config_path, "export", "--excel").output.removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(excel), delimiter=";"))
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil")'


def test_show_exports_one_subscriber_with_consent_log(config_path: Path) -> None:
    with Store(config_path.parent / "digest.db") as store:
        sid = store.create_subscriber(
            "lea@example.org",
            "",
            "pending",
            "fr",
            NOW,
            event="subscribe",
            source="web",
            ip="203.0.113.5",
        )
        assert sid is not None
        store.change_status(
            sid, "confirmed", ("pending",), NOW, event="confirm", source="web", ip="203.0.113.5"
        )
    shown = run(config_path, "show", "LEA@example.org")
    data = json.loads(shown.output)
    assert data["email"] == "lea@example.org" and data["status"] == "confirmed"
    assert data["confirmed_at"] == NOW.isoformat()
    assert [(e["event"], e["source"], e["ip"]) for e in data["consent_log"]] == [
        ("subscribe", "web", "203.0.113.5"),
        ("confirm", "web", "203.0.113.5"),
    ]


def test_erase_removes_personal_data_and_keeps_an_anonymised_record(config_path: Path) -> None:
    with Store(config_path.parent / "digest.db") as store:
        sid = store.create_subscriber(
            "lea@example.org",
            "Léa",
            "confirmed",
            "fr",
            NOW,
            event="subscribe",
            source="web",
            ip="203.0.113.5",
        )
    erased = run(config_path, "erase", "lea@example.org", "--yes")
    assert erased.exit_code == 0, erased.output
    assert "lea@example.org : effacée (le journal des consentements" in erased.output
    with Store(config_path.parent / "digest.db") as store:
        assert store.subscriber_by_email("lea@example.org") is None
        assert store.subscribers() == []
        row = store.db.execute("SELECT email, name, status FROM subscribers").fetchone()
        log = store.consent_log(sid or 0)
        dump = "\n".join(store.db.iterdump())
    assert row == (None, "", "erased")
    assert [(r.event, r.ip) for r in log] == [("subscribe", None), ("erase", None)]
    assert log[-1].email_hash == email_hash("lea@example.org")
    assert "lea@example.org" not in dump and "Léa" not in dump and "203.0.113.5" not in dump
    # The address may subscribe again later: a new row, a new id (old links stay dead).
    assert run(config_path, "add", "lea@example.org").exit_code == 0
    with Store(config_path.parent / "digest.db") as store:
        again = store.subscriber_by_email("lea@example.org")
    assert again is not None and again.id != sid


def test_errors_print_a_message_and_hint(config_path: Path) -> None:
    digest = [sys.executable, "-m", "digest", "--config", str(config_path)]
    bad = subprocess.run(
        [*digest, "subscribers", "add", "Léa <lea@example.org>"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "indiquez l'adresse seule" in bad.stderr
    unknown = subprocess.run(
        [*digest, "subscribers", "show", "nobody@example.org"], capture_output=True, text=True
    )
    assert unknown.returncode == 2
    assert "aucun abonné à l'adresse nobody@example.org" in unknown.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr


def test_serve_without_secret_says_how_to_make_one(config_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DIGEST_SMTP_URL": "smtp://127.0.0.1:2525?tls=none"}
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config_path), "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2  # bad configuration, not a failed job
    assert "DIGEST_SECRET n'est pas défini" in done.stderr
    assert "secrets.token_urlsafe(32)" in done.stderr


def test_every_status_has_a_label_in_both_languages() -> None:
    for status in (*STATUSES, "erased"):
        assert status_label("en", status) == status  # English reads the store's words
        assert status_label("fr", status) != status
    assert status_label("fr", "something new") == "something new"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            [
                "ADRESSE                 STATUT       DEPUIS",
                "bounced@example.org     en échec     2026-05-11",
                "lea@example.org         confirmée    2026-05-11",
                "left@example.org        désinscrite  2026-05-11",
                "pending@example.org     en attente   2026-05-11",
                "quite.long@example.org  confirmée    2026-05-11",
                "5 adresses",
            ],
        ),
        (
            "en",
            [
                "EMAIL                   STATUS        SINCE",
                "bounced@example.org     bounced       2026-05-11",
                "lea@example.org         confirmed     2026-05-11",
                "left@example.org        unsubscribed  2026-05-11",
                "pending@example.org     pending       2026-05-11",
                "quite.long@example.org  confirmed     2026-05-11",
                "5 subscribers",
            ],
        ),
    ],
)
def test_the_list_table_speaks_the_newsletters_language_and_csv_keeps_raw_values(
    tmp_path: Path, language: str, expected: list[str]
) -> None:
    config_path = write_config(tmp_path, "https://lettre.example.org", language=language)
    empty = run(config_path, "list").output
    assert empty == {"fr": "aucune adresse\n", "en": "no subscribers\n"}[language]
    with Store(tmp_path / "digest.db") as store:
        for email, status in [
            ("lea@example.org", "confirmed"),
            ("quite.long@example.org", "confirmed"),
            ("pending@example.org", "pending"),
            ("left@example.org", "unsubscribed"),
            ("bounced@example.org", "bounced"),
        ]:
            store.create_subscriber(email, "", status, "fr", NOW, event="x", source="t")
    table = run(config_path, "list")
    assert table.exit_code == 0 and table.output.splitlines() == expected
    one = run(config_path, "list", "--status", "pending").output.splitlines()
    assert one[-1] == {"fr": "1 adresse", "en": "1 subscriber"}[language]
    rows = list(csv.DictReader(io.StringIO(run(config_path, "list", "--format", "csv").output)))
    assert {r["status"] for r in rows} == set(STATUSES)


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (
            "fr",
            [
                "lea@example.org : ajoutée (confirmée)",
                "lea@example.org : déjà confirmée",
                "lea@example.org : désinscrite",
                "lea@example.org : déjà désinscrite",
                "lea@example.org : était désinscrite, désormais confirmée",
                "lea@example.org : désinscrite (était en échec)",
                "lea@example.org : désinscrite (était en attente)",
            ],
        ),
        (
            "en",
            [
                "lea@example.org: added (confirmed)",
                "lea@example.org: already confirmed",
                "lea@example.org: unsubscribed",
                "lea@example.org: already unsubscribed",
                "lea@example.org: was unsubscribed, now confirmed",
                "lea@example.org: unsubscribed (was bounced)",
                "lea@example.org: unsubscribed (was pending)",
            ],
        ),
    ],
)
def test_add_and_remove_say_what_the_address_was_and_is(
    tmp_path: Path, language: str, said: list[str]
) -> None:
    """No store word in a French line, and no "was not subscribed" for one who left."""
    config_path = write_config(tmp_path, "https://lettre.example.org", language=language)
    lines = [run(config_path, "add", "lea@example.org").output]
    lines.append(run(config_path, "add", "lea@example.org").output)
    lines.append(run(config_path, "remove", "lea@example.org").output)
    lines.append(run(config_path, "remove", "lea@example.org").output)
    lines.append(run(config_path, "add", "lea@example.org").output)
    for status in ("bounced", "pending"):
        set_status(config_path, "lea@example.org", status)
        lines.append(run(config_path, "remove", "lea@example.org").output)
    assert lines == [line + "\n" for line in said]
    assert statuses(config_path) == {"lea@example.org": "unsubscribed"}


@pytest.mark.parametrize(
    ("language", "given", "erased", "asked_again"),
    [
        ("fr", "o\n", True, False),
        ("fr", "oui\n", True, False),
        ("fr", " Oui \n", True, False),
        ("fr", "y\n", True, False),
        ("fr", "yes\n", True, False),
        ("fr", "n\n", False, False),
        ("fr", "non\n", False, False),
        ("fr", "\n", False, False),  # Enter: the default, no
        ("fr", "peut-être\no\n", True, True),
        ("fr", None, False, False),  # no input at all
        ("en", "y\n", True, False),
        ("en", "YES\n", True, False),
        ("en", "no\n", False, False),
        ("en", "o\n", False, True),  # not an English yes: asked again, then no input left
    ],
)
def test_erase_asks_in_the_newsletters_language(
    tmp_path: Path, language: str, given: str | None, erased: bool, asked_again: bool
) -> None:
    """A real process, as staff run it: a no erases nothing and is no failure (exit 0)."""
    config_path = write_config(tmp_path, "https://lettre.example.org", language=language)
    run(config_path, "add", "lea@example.org")
    done = process(config_path, "erase", "lea@example.org", given=given)
    assert done.returncode == 0, done.stderr
    prompt = {
        "fr": "Effacer toutes les données personnelles de lea@example.org ? C'est irréversible."
        " [o/N] ",
        "en": "Erase all personal data of lea@example.org? This cannot be undone. [y/N] ",
    }[language]
    assert done.stdout.startswith(prompt + "\n")
    assert done.stdout.count(prompt) == (2 if asked_again else 1)
    again = {"fr": "répondez o (oui) ou n (non)\n", "en": "answer y (yes) or n (no)\n"}
    assert done.stderr == (again[language] if asked_again else "")
    last = done.stdout.splitlines()[-1]
    if erased:
        assert last.startswith(
            {"fr": "lea@example.org : effacée (", "en": "lea@example.org: erased ("}[language]
        )
        assert statuses(config_path) == {}
    else:
        no = {"fr": "lea@example.org : rien n'est effacé", "en": "lea@example.org: nothing erased"}
        assert last == no[language]
        assert statuses(config_path) == {"lea@example.org": "confirmed"}


def test_export_for_excel_keeps_accents_and_columns(config_path: Path) -> None:
    """French Excel reads a BOM-less CSV as Windows-1252 (Lefèvre becomes LefÃ¨vre) and splits
    on ';'. The default export stays what scripts read: UTF-8, no BOM, commas."""
    run(config_path, "add", "lea@example.org", "--name", "Léa Lefèvre; DRH")
    run(config_path, "add", "x@example.org", "--name", "=SUM(A1)")
    plain = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config_path), "subscribers", "export"],
        capture_output=True,
        check=True,
    ).stdout
    assert plain.startswith(b"email,status,name,") and b"\r\n" not in plain
    assert "Léa Lefèvre; DRH".encode() in plain
    excel = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config_path), "subscribers", "export",
         "--excel"],
        capture_output=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "latin-1"},  # still UTF-8 out
    ).stdout  # fmt: skip
    assert excel.startswith(b"\xef\xbb\xbfemail;status;name;language;")
    text = excel.decode("utf-8-sig")
    assert text.count("\r\n") == 3 and "\n" not in text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert [(r["email"], r["status"], r["name"]) for r in rows] == [
        ("lea@example.org", "confirmed", "Léa Lefèvre; DRH"),
        ("x@example.org", "confirmed", "'=SUM(A1)"),
    ]


def test_erase_of_an_unknown_address_says_so_before_asking(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, "https://lettre.example.org")
    done = process(config_path, "erase", "personne@example.org", given="o\n")
    assert done.returncode == 2
    assert "aucun abonné à l'adresse personne@example.org" in done.stderr
    assert "Effacer" not in done.stdout
