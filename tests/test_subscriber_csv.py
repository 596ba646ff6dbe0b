"""An export imports back as itself (issue 10): import → export → import is the identity, for
the plain export, `list --format csv` and `export --excel`, with addresses and names that a
spreadsheet would take for formulas. The real CLI in subprocesses, real store files.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digest.spreadsheet import guarded, unguarded
from tests.web_support import write_config

# (address, name): every address starts as a formula would, or holds a quote; every name
# too, or holds the separators and quotes a CSV must escape, or accents.
TRICKY = [
    ("-bob@example.org", "-Bob"),
    ("=x@example.org", '=HYPERLINK("http://evil.example")'),
    ("+33@example.org", "+33 6 12 34 56 78"),
    ("at@example.org", "@Léa"),
    ("=cmd|calc@example.org", "-2+3"),
    ("o'brien@example.org", "'=déjà gardé"),
    ("semi@example.org", "Lefèvre; Léa, née « Dubois »"),
    ("quote@example.org", 'Jean "Jojo" Dupont'),
    ("zoe@example.org", "Zoé Ångström-Çelik"),
    ("plain@example.org", ""),
]
EXPORTS = {
    "export": ("subscribers", "export"),
    "list": ("subscribers", "list", "--format", "csv"),
    "excel": ("subscribers", "export", "--excel"),
}


def digest(config: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done


def rows_of(exported: bytes) -> list[tuple[str, str, str]]:
    """(email, status, name) of each row, the cells exactly as written."""
    text = exported.decode("utf-8-sig")
    delimiter = ";" if text.startswith("email;") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [(r["email"], r["status"], r["name"]) for r in reader]


@pytest.mark.parametrize("kind", EXPORTS)
def test_an_export_imports_back_as_itself(tmp_path: Path, kind: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    source = tmp_path / "source.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("email", "name"), *TRICKY])
    one, two = (write_config(folder, "https://lettre.example.org") for folder in (first, second))

    digest(one, "subscribers", "import", str(source))
    exported = digest(one, *EXPORTS[kind]).stdout
    (tmp_path / "exported.csv").write_bytes(exported)
    digest(two, "subscribers", "import", str(tmp_path / "exported.csv"))
    again = digest(two, *EXPORTS[kind]).stdout

    assert rows_of(again) == rows_of(exported)
    expected = sorted((email, "confirmed", name) for email, name in TRICKY)
    if kind == "excel":  # names only, and only in the spreadsheet's file
        expected = [(email, status, guarded(name)) for email, status, name in expected]
    assert rows_of(exported) == expected
    # The same file into the store it came from: nothing new, no phantom subscriber.
    back = digest(one, "subscribers", "import", str(tmp_path / "exported.csv")).stdout.decode()
    assert back.startswith(f"0 ajoutée, 0 confirmée, {len(TRICKY)} inchangées"), back
    assert rows_of(digest(one, *EXPORTS[kind]).stdout) == rows_of(exported)


@pytest.mark.parametrize(
    "text",
    ["", "x", "=1+1", "-", "+33", "@Léa", "'", "'=x", "''=x", "'x", "a=b", " =x", "'''-"],
)
def test_the_guard_is_undone_exactly(text: str) -> None:
    assert unguarded(guarded(text)) == text
    assert guarded(text)[:1] not in ("=", "+", "-", "@")


def test_the_report_csv_keeps_addresses_and_guards_error_texts(tmp_path: Path) -> None:
    """`digest report --format csv`: an address is never guarded; an error text, a remote
    server's words, is."""
    from digest.store import Store
    from digest.store.outbox import Outcome
    from tests.deliver_support import ISSUE, NOW, make_config, store_issue

    config = make_config(tmp_path)
    with Store(config.store) as store:
        bob = store.create_subscriber(
            "-bob@example.org", "", "confirmed", "fr", NOW, event="add", source="cli"
        )
        assert bob is not None
        store_issue(store)
        store.freeze_audience(ISSUE, "example.org", NOW)
        store.claim(ISSUE, NOW, 10)
        store.record(ISSUE, [Outcome(bob, "failed", "=1+1 refused")], NOW)
    report = digest(config.path, "report", ISSUE, "--format", "csv").stdout.decode()
    rows = list(csv.DictReader(io.StringIO(report)))
    assert [(r["email"], r["last_error"]) for r in rows] == [("-bob@example.org", "'=1+1 refused")]
