"""The errors and hints of the subscriber, store, token, calendar and site side come from the
catalogue (docs/messages.md): French for a French newsletter, today's English words with
DIGEST_LANG=en. The real CLI in subprocesses for what staff read in the terminal; the
library in process for the rest (`t` speaks French when no command line set the language).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from digest import chars, i18n
from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.errors import EXIT_LOCKED, SettingError, UsageError
from digest.lock import exclusive_run
from digest.period import parse_moment, unknown_issue_hint, week_period
from digest.subscribers import BadAddress, normalise_email
from digest.tokens import CONFIRM, BadToken, ExpiredToken, load_keys, make_token, read_token
from digest.web import create_app
from tests.cli_support import digest
from tests.web_support import KEYS, running_site, write_config

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SMTP = "smtp://127.0.0.1:2525?tls=none"


@pytest.fixture(autouse=True)
def _no_language_set_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a fresh process: no command line has set the staff language."""
    monkeypatch.setattr(i18n, "_staff", None)


@pytest.fixture
def french(tmp_path: Path) -> Path:
    """A French newsletter (`language: fr`) whose store holds no subscriber yet."""
    return write_config(tmp_path, "https://lettre.example.org")


def said(done: subprocess.CompletedProcess[str], exit_code: int, *lines: str) -> None:
    """`exit_code`, no traceback, nothing on stdout, and each of `lines` on stderr."""
    assert done.returncode == exit_code, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == "", done.stderr
    for line in lines:
        assert line in done.stderr, done.stderr


# -- subscribers ------------------------------------------------------------------------


def test_a_bad_address_is_said_in_french_and_in_english(french: Path) -> None:
    reason = "An email address must have an @-sign."  # email_validator's own words
    done = digest(french, "subscribers", "add", "not-an-address")
    said(done, 2, f"adresse électronique non valide : {reason}")
    english = digest(french, "subscribers", "add", "not-an-address", lang="en")
    said(english, 2)
    assert english.stderr == f"error: not a valid email address: {reason}\n"
    bare = digest(french, "subscribers", "add", "Léa <lea@example.org>")
    said(bare, 2, "indiquez l'adresse seule, par exemple prenom.nom@exemple.fr")


def test_an_unknown_subscriber_is_said_with_its_hint(french: Path) -> None:
    done = digest(french, "subscribers", "remove", "nobody@example.org")
    said(
        done,
        2,
        "aucun abonné à l'adresse nobody@example.org\n",
        "voir `digest subscribers list`\n",
    )
    english = digest(french, "subscribers", "remove", "nobody@example.org", lang="en")
    said(english, 2)
    assert english.stderr == (
        "error: no subscriber nobody@example.org\nhint: see `digest subscribers list`\n"
    )


def test_an_address_too_long_is_quoted_shortened(french: Path) -> None:
    """What a person typed is quoted, never whole: spaces around a known-good address."""
    typed = " " * 5000 + "nobody@example.org"
    done = digest(french, "subscribers", "show", typed)
    said(done, 2, "aucun abonné à l'adresse      ")
    assert len(done.stderr) < 400 and "nobody@example.org" not in done.stderr


def test_the_problems_of_an_import_are_said_in_french(french: Path, tmp_path: Path) -> None:
    listing = tmp_path / "liste.csv"
    listing.write_text("email;nom\nanne@example.org;Anne\npas une adresse;X\n", "utf-8")
    done = digest(french, "subscribers", "import", str(listing))
    assert done.returncode == 0, done.stderr
    assert done.stderr == (
        "ligne 3 : 'pas une adresse' : indiquez l'adresse seule, par exemple"
        " prenom.nom@exemple.fr\n"
    )
    english = digest(french, "subscribers", "import", str(listing), lang="en")
    assert english.stderr == (
        "line 3: 'pas une adresse': give the bare address only, like name@example.org\n"
    )


def test_an_address_rejected_deep_in_the_library_speaks_the_staff_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(BadAddress) as french:
        normalise_email("")
    assert french.value.message == "l'adresse est vide"
    monkeypatch.setenv("DIGEST_LANG", "en")
    with pytest.raises(BadAddress) as english:
        normalise_email("")
    assert english.value.message == "the address is empty"


# -- the run lock and the store ---------------------------------------------------------


def test_a_locked_run_is_said_in_french(french: Path, tmp_path: Path) -> None:
    lock = tmp_path / "digest.db.lock"
    with exclusive_run(tmp_path / "digest.db", "run"):
        done = digest(french, "run", "--offline")
        english = digest(french, "run", "--offline", lang="en")
    said(
        done,
        EXIT_LOCKED,
        "une autre exécution de digest est en cours et tient le verrou (pid ",
        f"attendez qu'elle se termine ; le verrou est {lock}\n",
    )
    said(
        english,
        EXIT_LOCKED,
        "error: another digest run holds the lock (pid ",
        f"hint: wait for it to finish; the lock is {lock}\n",
    )


def test_a_damaged_store_is_said_in_french(french: Path, tmp_path: Path) -> None:
    store = tmp_path / "digest.db"
    store.write_bytes(b"not a database, but a page of something else\n" * 200)
    done = digest(french, "subscribers", "list")
    said(
        done,
        1,
        f"la base {store} est endommagée (file is not a database) ; digest s'est arrêté avant"
        " de modifier quoi que ce soit d'autre\n",
        "restaurez la dernière sauvegarde (docs/operations.md, « Backing up the store ») ;"
        " gardez le fichier endommagé de côté : `sqlite3 digest.db .recover` peut sauver ce"
        " qui manque à la sauvegarde\n",
    )
    english = digest(french, "subscribers", "list", lang="en")
    said(english, 1)
    assert english.stderr == (
        f"error: the store {store} is damaged (file is not a database); digest stopped before"
        " changing anything more\n"
        "hint: restore the last backup (docs/operations.md, 'Backing up the store'); keep the"
        " damaged file aside, `sqlite3 digest.db .recover` may save what the backup lacks\n"
    )


# -- files that are not UTF-8 -----------------------------------------------------------


def test_what_is_not_utf8_is_said_in_the_staff_language(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(chars.NotUtf8) as french:
        chars.decode("titre\nÉté\n".encode("latin-1"))
    assert (
        french.value.detail == "pas de l'UTF-8 (octet 0xc9 à la colonne 1, « É » en Windows-1252)"
    )
    assert str(french.value).startswith("ligne 2 : pas de l'UTF-8")
    assert chars.save_as_utf8().startswith("enregistrez le fichier en UTF-8")
    monkeypatch.setenv("DIGEST_LANG", "en")
    with pytest.raises(chars.NotUtf8) as english:
        chars.decode("titre\nÉté\n".encode("utf-16"))
    assert english.value.detail == "not UTF-8: the file is saved as UTF-16 (Unicode)"
    # Read when it is said, in the language of that moment (config.py and sources read it).
    assert (
        chars.save_as_utf8() == "save the file as UTF-8 (in most editors: Save as, Encoding: UTF-8)"
    )


# -- links and DIGEST_SECRET ------------------------------------------------------------


def test_token_errors_speak_the_staff_language(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingError) as missing:
        load_keys({})
    assert missing.value.message == (
        "DIGEST_SECRET n'est pas défini : les liens des emails ne peuvent pas être signés"
    )
    assert missing.value.hint is not None and missing.value.hint.startswith("créez une clé avec")
    token = make_token(KEYS, CONFIRM, 7, NOW)
    with pytest.raises(ExpiredToken) as expired:
        read_token(KEYS, token, CONFIRM, now=NOW.replace(year=2027), max_age=NOW - NOW)
    assert (expired.value.message, expired.value.hint) == (
        "ce lien de confirmation a expiré",
        "inscrivez-vous à nouveau",
    )
    monkeypatch.setenv("DIGEST_LANG", "en")
    with pytest.raises(BadToken) as bad:
        read_token(KEYS, "c.7.x", CONFIRM, now=NOW)
    assert (bad.value.message, bad.value.hint) == (
        "this link is not valid",
        "copy the whole link from the email",
    )


# -- the calendar -----------------------------------------------------------------------


def test_calendar_errors_speak_the_staff_language(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError) as week:
        week_period("2023-19", PARIS)
    assert (week.value.message, week.value.hint) == (
        "--week : '2023-19' n'est pas une semaine ISO",
        "écrivez-la comme 2023-W19 (année-Wsemaine)",
    )
    assert unknown_issue_hint("2023-w30") == (
        "voir `digest issues`, ou construisez-la : `digest build --week 2023-W30`"
    )
    monkeypatch.setenv("DIGEST_LANG", "en")
    with pytest.raises(UsageError) as moment:
        parse_moment("x" * 500, PARIS)
    assert moment.value.message.startswith("--as-of: 'xxxx")  # quoted, never whole
    assert moment.value.message.endswith("xxx' is not an ISO date or datetime")
    assert "..." in moment.value.message
    assert len(moment.value.message) < 150
    assert moment.value.hint == "write it like 2023-05-12 or 2023-05-12T09:00 (local time)"


# -- the site ---------------------------------------------------------------------------


def test_a_site_without_sender_is_said_in_the_staff_language(tmp_path: Path) -> None:
    path = write_config(tmp_path, "https://lettre.example.org")
    text = path.read_text("utf-8").replace("Lettre du Cerdd <lettre@example.org>", " ")
    path.write_text(text, "utf-8")
    with pytest.raises(SettingError) as empty:
        create_app(load_config(path), keys=KEYS, smtp=parse_smtp_url(SMTP))
    assert empty.value.message == (
        "newsletter.sender est vide : le courriel de confirmation a besoin d'une adresse"
        " d'expéditeur (From:)"
    )


@pytest.fixture(params=["fr", "en"])
def site_in(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    language = str(request.param)
    with running_site(tmp_path, SMTP, language=language) as site:
        yield language, site.url


def test_a_body_too_large_is_answered_in_the_newsletter_language(
    site_in: tuple[str, str],
) -> None:
    language, url = site_in
    answer = httpx.post(url + "/subscribe", content=b"x" * 20_000)
    assert answer.status_code == 413
    expected = {"fr": "Demande trop volumineuse", "en": "Request body too large"}
    assert answer.text == expected[language]
