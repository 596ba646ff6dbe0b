"""`digest staff add|list|remove` as staff run them: a real process, the password on stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from digest.config import load_config
from digest.store import Store
from digest.web.staff import open_session, password_matches, token_hash
from tests.web_support import write_config

PASSWORD = "correct horse battery staple"


def staff(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), "staff", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
    )


def test_add_list_remove(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:8000")
    added = staff(
        config, "add", "Camille@Cerdd.Example.ORG", "--name", "Camille", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "camille@cerdd.example.org : compte créé"
    store_path = load_config(config).store
    with Store(store_path) as store:
        account = store.staff_account("camille@cerdd.example.org")
        assert account is not None and account.name == "Camille"
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash
        assert password_matches(account.password_hash, PASSWORD)
        token = open_session(store, account, datetime.now(UTC))
    listed = staff(config, "list")
    assert listed.returncode == 0
    assert "camille@cerdd.example.org" in listed.stdout and "1 session ouverte" in listed.stdout
    removed = staff(config, "remove", "camille@cerdd.example.org")
    assert removed.returncode == 0, removed.stderr
    assert "compte supprimé" in removed.stdout
    with Store(store_path) as store:
        assert store.staff_account("camille@cerdd.example.org") is None
        assert store.staff_session(token_hash(token)) is None
        actions = [e.action for e in store.audit_entries()]
    assert actions == ["staff_removed", "staff_added"]
    assert "Aucun compte" in staff(config, "list").stdout


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:8000")
    refused = staff(config, "add", "camille@cerdd.example.org", stdin="short\n")
    assert refused.returncode == 2
    assert "Mot de passe trop court : 5 caractères, il en faut au moins 12" in refused.stderr
    assert "Traceback" not in refused.stderr
    with Store(load_config(config).store) as store:
        assert store.staff_accounts() == []


def test_no_password_and_a_bad_address_are_clear_errors(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:8000")
    empty = staff(config, "add", "camille@cerdd.example.org", stdin="")
    assert empty.returncode == 2 and "Aucun mot de passe" in empty.stderr
    bad = staff(config, "add", "pas une adresse", stdin=PASSWORD + "\n")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    unknown = staff(config, "remove", "nobody@cerdd.example.org")
    assert unknown.returncode == 2 and "aucun compte" in unknown.stderr


def test_adding_again_sets_a_new_password_and_ends_sessions(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:8000")
    staff(config, "add", "camille@cerdd.example.org", stdin=PASSWORD + "\n")
    with Store(load_config(config).store) as store:
        account = store.staff_account("camille@cerdd.example.org")
        assert account is not None
        token = open_session(store, account, datetime.now(UTC))
    again = staff(config, "add", "camille@cerdd.example.org", stdin="another long passphrase\n")
    assert again.returncode == 0 and "mot de passe changé" in again.stdout
    with Store(load_config(config).store) as store:
        assert store.staff_session(token_hash(token)) is None
        account = store.staff_account("camille@cerdd.example.org")
        assert account is not None
        assert password_matches(account.password_hash, "another long passphrase")
        assert not password_matches(account.password_hash, PASSWORD)
