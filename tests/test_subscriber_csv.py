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
from tests.cli_support import digest as cli
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


def importing(config: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return cli(config, "subscribers", "import", str(path))


def listed(config: Path) -> list[tuple[str, str, str]]:
    return rows_of(digest(config, "subscribers", "export").stdout)


def test_a_cell_over_the_csv_limit_refuses_the_file_and_imports_nothing(tmp_path: Path) -> None:
    """A quote left open in a long list: thousands of lines become one cell, over the csv
    module's limit (128 KiB). Said in one message naming the lines, exit 2, nothing
    imported; once the quote is closed the same file imports whole."""
    config = write_config(tmp_path, "https://lettre.example.org")
    many = "".join(f"lecteur{n:05d}@example.org;Lecteur {n}\n" for n in range(5000))
    text = f'email;nom\nanne@example.org;Anne\nbob@example.org;"Bob\n{many}zoe@example.org;Zoé\n'
    path = tmp_path / "liste.csv"
    path.write_text(text, encoding="utf-8")
    done = importing(config, path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "liste.csv ne peut pas être importé : lignes 3 à " in done.stderr
    assert "field larger than field limit (131072)" in done.stderr
    assert 'fermez ou supprimez ce guillemet (") dans le fichier' in done.stderr
    assert listed(config) == []
    path.write_text(text.replace(';"Bob', ";Bob"), encoding="utf-8")
    assert importing(config, path).returncode == 0
    assert len(listed(config)) == 5003


def test_a_quote_left_open_that_swallows_rows_refuses_the_file(tmp_path: Path) -> None:
    """Under the size limit the csv module reads the rest of the file into the open cell,
    silently: the rows after it would be lost as one subscriber's name."""
    config = write_config(tmp_path, "https://lettre.example.org")
    path = tmp_path / "liste.csv"
    path.write_text(
        'email;nom\nanne@example.org;"Anne\nbob@example.org;Bob\nzoe@example.org;Zoé\n',
        encoding="utf-8",
    )
    done = importing(config, path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert 'lignes 2 à 4 lues comme une seule cellule : un guillemet (") resté ouvert ?' in (
        done.stderr
    )
    assert listed(config) == []
    # A name with a line break in it (an address book's "Service\nDirection") still imports.
    path.write_text('email;nom\nanne@example.org;"Anne\nDirection"\n', encoding="utf-8")
    assert importing(config, path).returncode == 0
    assert listed(config) == [("anne@example.org", "confirmed", "Anne Direction")]
