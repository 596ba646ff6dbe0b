"""GDPR erasure leaves the address and the name nowhere (issue 10): not in any table, not in
any output of digest, not in the bytes of the store file nor of its WAL.

Real parts: a real send through the loopback SMTP server, whose refusals quote the address
as real servers do; the CLI in subprocesses; the raw bytes of digest.db and digest.db-wal,
read while another connection keeps the store open, as `digest serve` does all day (the
last connection to close would otherwise checkpoint and delete the WAL, hiding the fault).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.store import Store
from tests.deliver_support import ISSUE, add_subscribers, make_config, store_issue
from tests.smtp_server import SmtpServer
from tests.test_deliver_cli import digest

LEA = "lea.tricoire@example.org"
NAME = "Léa Tricoire-Zébulon"
NOW = datetime(2023, 5, 15, 7, 0, tzinfo=UTC)


def traces(folder: Path) -> dict[str, list[str]]:
    """Which of the address and the name each file of the store still holds, byte for byte."""
    found: dict[str, list[str]] = {}
    for name in ("digest.db", "digest.db-wal"):
        path = folder / name
        data = path.read_bytes() if path.exists() else b""
        found[name] = [
            text for text in (LEA, NAME) if text.encode() in data or text.encode() in data.lower()
        ]
    return found


@pytest.fixture
def sent(tmp_path: Path, smtp_server: SmtpServer) -> Path:
    """A store written as an SQLite without secure_delete writes it (python.org's builds):
    Léa added, renamed and moved between statuses (each UPDATE leaves an old copy of her row
    in free space), then an issue sent, which her server refused quoting her address."""
    config = make_config(tmp_path, "delivery:\n  retry_base: 0.05\n  retry_wait: 0\n")
    with Store(config.store) as store:
        store.db.execute("PRAGMA secure_delete=OFF")
        add_subscribers(store, 300)
        lea = store.create_subscriber(LEA, NAME, "confirmed", "fr", NOW, event="add", source="cli")
        assert lea is not None
        for status in ("unsubscribed", "confirmed", "bounced", "confirmed"):
            store.change_status(lea, status, ("confirmed", "unsubscribed", "bounced"), NOW,
                                event="add", source="cli")  # fmt: skip
        store_issue(store)
    smtp_server.script.rcpt[LEA] = f"550 5.1.1 <{LEA}>: {NAME.encode('ascii', 'replace')!r}"
    smtp_server.script.rcpt["user00001@example.org"] = f"451 4.2.2 <{LEA}> is over quota"
    send = digest(config.path, "send", "--issue", ISSUE, smtp=smtp_server.url)
    assert send.returncode == 0, send.stderr
    assert LEA in digest(config.path, "report", ISSUE).stdout  # the fault to fix is there
    return config.path


@contextmanager
def site_reading(store: Path) -> Iterator[None]:
    """Another process keeps a connection to the store open, as `digest serve` does.

    A process of its own: POSIX locks belong to the process, so the test reading the file's
    bytes (open, close) would drop the locks of a connection it held itself.
    """
    script = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]);"
        " db.execute('SELECT COUNT(*) FROM subscribers').fetchone();"
        " print('open', flush=True); sys.stdin.read()"
    )
    site = subprocess.Popen(
        [sys.executable, "-c", script, str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert site.stdout is not None and site.stdout.readline() == "open\n"
        yield
    finally:
        assert site.stdin is not None
        site.stdin.close()
        site.wait(timeout=30)


def test_erase_leaves_no_copy_in_tables_outputs_or_store_files(sent: Path) -> None:
    folder = sent.parent
    with site_reading(folder / "digest.db"):
        assert traces(folder)["digest.db-wal"] or traces(folder)["digest.db"]
        erased = digest(sent, "subscribers", "erase", LEA, "--yes")
        assert erased.returncode == 0, erased.stderr
        assert (folder / "digest.db-wal").exists()  # still open: its bytes are checked too
        assert traces(folder) == {"digest.db": [], "digest.db-wal": []}
        table = digest(sent, "report", ISSUE)
        as_csv = digest(sent, "report", ISSUE, "--format", "csv")
        export = digest(sent, "subscribers", "export")
    for done in (table, as_csv, export):
        assert done.returncode == 0, done.stderr
        assert LEA not in done.stdout + done.stderr and NAME not in done.stdout + done.stderr
    assert "(erased)" in table.stdout
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert rows["(erased)"]["status"] == "bounced" and rows["(erased)"]["last_error"] == ""
    # Another row whose error quoted her address keeps its error, her address blanked out.
    other = rows["user00001@example.org"]
    assert (other["status"], other["last_error"]) == (
        "deferred",
        "451 4.2.2 <(erased)> is over quota",
    )


def test_a_reply_recorded_after_the_erasure_keeps_no_text(sent: Path) -> None:
    """A send in flight when staff erase: the reply arrives after, quoting the address."""
    from digest.store.outbox import Outcome

    with Store(sent.parent / "digest.db") as store:
        sid = store.db.execute("SELECT id FROM subscribers WHERE email = ?", (LEA,)).fetchone()
    assert digest(sent, "subscribers", "erase", LEA, "--yes").returncode == 0
    with Store(sent.parent / "digest.db") as store:
        late = Outcome(sid[0], "failed", f"550 5.1.1 <{LEA}> no such user", bounced=True)
        store.record(ISSUE, [late], NOW)
        store.record_late_failure(ISSUE, sid[0], f"5.1.1 <{LEA}>", True, NOW)
        assert store.db.execute(
            "SELECT last_error FROM outbox WHERE subscriber_id = ?", sid
        ).fetchone() == (None,)


def test_erasing_again_scrubs_again_and_says_it_was_erased(sent: Path) -> None:
    assert digest(sent, "subscribers", "erase", LEA, "--yes").returncode == 0
    again = digest(sent, "subscribers", "erase", LEA.upper())  # no --yes: nothing to ask
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{LEA.upper()} : déjà effacée\n"
    unknown = digest(sent, "subscribers", "erase", "nobody@example.org", "--yes")
    assert unknown.returncode == 2
    assert "aucun abonné à l'adresse nobody@example.org" in unknown.stderr


def test_a_scrub_held_up_by_a_reader_is_said_and_finished_by_erasing_again(
    sent: Path,
) -> None:
    """A reader in the middle of a long read keeps the WAL's old pages: the erasure is
    recorded, the command says the files are not clean yet, and running it again cleans
    them."""
    from digest import subscribers as subs
    from digest.errors import StoreError

    script = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1], isolation_level=None);"
        " db.execute('BEGIN'); db.execute('SELECT COUNT(*) FROM subscribers').fetchone();"
        " print('reading', flush=True); sys.stdin.read()"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(sent.parent / "digest.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None and reader.stdout.readline() == "reading\n"
    try:
        with Store(sent.parent / "digest.db") as store:
            store.db.execute("PRAGMA busy_timeout = 200")  # not the 30 s a command waits
            with pytest.raises(StoreError) as held:
                subs.erase(store, LEA, now=NOW, source="cli")
            assert store.subscriber_by_email(LEA) is None  # the erasure itself is recorded
    finally:
        assert reader.stdin is not None
        reader.stdin.close()
        reader.wait(timeout=30)
    assert f"{LEA} est effacée de toutes les tables, mais les fichiers" in held.value.message
    assert held.value.hint and f"relancez `digest subscribers erase {LEA}`" in held.value.hint
    with site_reading(sent.parent / "digest.db"):
        again = digest(sent, "subscribers", "erase", LEA)
        assert again.returncode == 0 and "déjà effacée" in again.stdout, again.stderr
        assert traces(sent.parent) == {"digest.db": [], "digest.db-wal": []}


def test_erasing_an_address_spares_the_longer_addresses_that_contain_it(tmp_path: Path) -> None:
    """The redaction of other rows' errors takes the address as a whole: erasing
    lea@example.org leaves marie-lea@example.org and lea@example.org.uk as they are."""
    from digest.store.outbox import Outcome

    config = make_config(tmp_path)
    with Store(config.store) as store:
        ids = [
            store.create_subscriber(email, "", "confirmed", "fr", NOW, event="add", source="cli")
            or 0
            for email in ("lea@example.org", "marie-lea@example.org")
        ]
        assert 0 not in ids
        store_issue(store)
        store.freeze_audience(ISSUE, "example.org", NOW)
        store.claim(ISSUE, NOW, 10)
        errors = ("550 <lea@example.org> unknown",
                  "550 <marie-lea@example.org> unknown; not lea@example.org.uk;"
                  " forwarded from LEA@example.org.")  # fmt: skip
        store.record(
            ISSUE, [Outcome(i, "failed", e) for i, e in zip(ids, errors, strict=True)], NOW
        )
    assert digest(config.path, "subscribers", "erase", "lea@example.org", "--yes").returncode == 0
    as_csv = digest(config.path, "report", ISSUE, "--format", "csv").stdout
    rows = {r["email"]: r["last_error"] for r in csv.DictReader(io.StringIO(as_csv))}
    assert rows == {
        "(erased)": "",
        "marie-lea@example.org": "550 <marie-lea@example.org> unknown; not lea@example.org.uk;"
        " forwarded from (erased).",
    }
