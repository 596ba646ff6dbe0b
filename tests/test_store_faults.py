"""A store file that cannot be written, or is damaged: one message and a hint, exit 1, and
nothing changed (issue 10). Real files, the real CLI in a subprocess, as staff meet it.

Making a file read-only: the tests run as root in CI, and root writes through `chmod a-w`.
The immutable flag (`chattr +i`, ext4/xfs/btrfs) stops root too, and SQLite meets it
through the same open(2) refusal as a file it may not write, so it stands for both; as an
ordinary user, chmod does the job. If neither stops a write here, the test fails (it does
not skip): a fault test that silently tests nothing is worse than a red one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.store import Store
from tests.cli_support import digest
from tests.web_support import write_config

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def said_once(done: subprocess.CompletedProcess[str], message: str, hint: str) -> None:
    """Exit 1 (the job failed), the message and its hint, no traceback."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("erreur : "), done.stderr
    assert message in done.stderr and f"conseil : {hint}" in done.stderr, done.stderr


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` (a file or a folder) cannot be written while inside, even by root."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        assert chattr, "tests run as root need chattr to make a file read-only"
        subprocess.run([chattr, "+i", str(path)], check=True, capture_output=True)
        undo = [chattr, "-i", str(path)]
    else:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        undo = []
    try:
        probe = path / ".probe" if path.is_dir() else path
        with pytest.raises(PermissionError):  # the mechanism really stops writes here
            probe.open("a").close()
        yield
    finally:
        if undo:
            subprocess.run(undo, check=True, capture_output=True)
        else:
            path.chmod(mode)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose store holds two subscribers; closed, so no -wal or -shm is left."""
    path = write_config(tmp_path, "https://lettre.example.org")
    with Store(tmp_path / "digest.db") as store:
        for email in ("anne@example.org", "bob@example.org"):
            store.create_subscriber(email, "", "confirmed", "fr", NOW, event="add", source="cli")
    assert not (tmp_path / "digest.db-wal").exists()
    return path


def statuses(store_path: Path) -> dict[str, str]:
    with Store(store_path) as store:
        return {s.email or "": s.status for s in store.subscribers()}


READ_ONLY_HINT = "digest doit pouvoir écrire dans digest.db et dans son dossier"


def test_a_read_only_store_file_is_said_and_changes_nothing(config: Path, tmp_path: Path) -> None:
    store = tmp_path / "digest.db"
    (tmp_path / "new.csv").write_text("carla@example.org;Carla\n", encoding="utf-8")
    before = statuses(store)
    with read_only(store):
        for args in (
            ("subscribers", "add", "carla@example.org"),
            ("subscribers", "remove", "anne@example.org"),
            ("subscribers", "import", str(tmp_path / "new.csv")),
            ("subscribers", "erase", "bob@example.org", "--yes"),
        ):
            said_once(digest(config, *args), "est en lecture seule", READ_ONLY_HINT)
        listed = digest(config, "subscribers", "list", "--format", "csv")  # reading still works
        assert listed.returncode == 0 and "anne@example.org,confirmed" in listed.stdout
    assert statuses(store) == before


def test_a_read_only_store_folder_is_said_and_changes_nothing(config: Path, tmp_path: Path) -> None:
    """SQLite must create digest.db-wal and -shm beside the file; `digest run` its lock."""
    before = statuses(tmp_path / "digest.db")
    with read_only(tmp_path):
        for args in (
            ("subscribers", "list"),
            ("subscribers", "add", "carla@example.org"),
            ("run", "--offline"),
            ("send", "--dry-run"),
        ):
            said_once(digest(config, *args), "/digest.db", READ_ONLY_HINT)
    assert statuses(tmp_path / "digest.db") == before


def test_an_issue_folder_that_cannot_be_written_is_said(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with read_only(out):
        done = digest(config, "build", "--offline", "--week", "2023-W19", "--out", str(out / "w"))
    said_once(done, f"impossible d'écrire la lettre dans {out / 'w'}", "vérifiez que le dossier")


def damage_a_subscribers_page(store: Path) -> None:
    """Overwrite a leaf page of the subscribers table in the middle of the file."""
    with sqlite3.connect(store) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = [p for (p,) in db.execute(
            "SELECT pageno FROM dbstat WHERE name = 'subscribers' AND pagetype = 'leaf'"
            " ORDER BY pageno"
        )]  # fmt: skip
    db.close()
    page = pages[len(pages) // 2]
    with store.open("r+b") as handle:
        handle.seek((page - 1) * page_size + 8)  # past the page header: the cell pointers
        handle.write(b"\xa5" * (page_size - 16))


def test_a_damaged_store_is_said_and_changes_nothing(config: Path, tmp_path: Path) -> None:
    store = tmp_path / "digest.db"
    with Store(store) as opened, opened.transaction() as db:
        db.executemany(
            "INSERT INTO subscribers (email, status, created_at, updated_at)"
            " VALUES (?, 'confirmed', ?, ?)",
            [(f"reader{n:05d}@example.org", NOW.isoformat(), NOW.isoformat()) for n in range(3000)],
        )
    every = tmp_path / "every.csv"
    every.write_text("".join(f"reader{n:05d}@example.org\n" for n in range(3000)), "utf-8")
    damage_a_subscribers_page(store)
    damaged = store.read_bytes()
    hint = "restaurez la dernière sauvegarde"
    for args in (
        ("subscribers", "list"),
        ("subscribers", "export", "--excel"),
        ("subscribers", "import", str(every)),  # looks each address up: one is damaged
    ):
        said_once(digest(config, *args), f"la base {store} est endommagée", hint)
    assert store.read_bytes() == damaged  # nothing written over what a recovery may save


def test_a_full_disk_mid_transaction_is_said_not_hidden_by_the_rollback(tmp_path: Path) -> None:
    """On SQLITE_FULL, SQLite rolls the transaction back itself; a second ROLLBACK then
    failed ("no transaction is active") and hid the real fault. max_page_count makes SQLite
    answer exactly as a full disk does, on a real file."""
    from digest.errors import StoreError

    with Store(tmp_path / "digest.db") as store:
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
        store.db.execute(f"PRAGMA max_page_count = {pages + 2}")
        rows = [(f"reader{n:05d}@example.org", NOW.isoformat()) for n in range(3000)]
        with pytest.raises(StoreError) as full, store.transaction() as db:
            db.executemany(
                "INSERT INTO subscribers (email, status, created_at, updated_at)"
                " VALUES (?, 'confirmed', ?2, ?2)",
                rows,
            )
        assert not store.db.in_transaction
        assert store.subscribers() == []  # all or nothing
    assert f"le disque de la base {tmp_path / 'digest.db'} est plein" in full.value.message
    assert full.value.hint and "libérez de la place" in full.value.hint
