"""Files not saved as UTF-8 (issue 10): one message naming the file, line and byte, with how
to save it; never a traceback; a recap is reported in the build summary and the others are
read. The real CLI in subprocesses, files written byte for byte as editors save them.

The files the build reads are checked in English (DIGEST_LANG=en: the language is not the
point there); the subscriber list, in French, as a French newsletter's staff read it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import digest
from tests.web_support import write_config

SAVE = "hint: save the file as UTF-8 (in most editors: Save as, Encoding: UTF-8)"
RECAP = "# Retour sur l'atelier\n\nMis à jour le 11 mai 2023\n\nUn été à Lille.\n"


def refused(done: subprocess.CompletedProcess[str], *said: str) -> None:
    """Exit 2 (bad input), no traceback, each of `said` on stderr."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for text in said:
        assert text in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (
            'newsletter:\n  title: "Lettre d\'\xe9t\xe9"\n'.encode("latin-1"),
            "feeds.yaml:2: not UTF-8 (byte 0xe9 at column 20, « é » in Windows-1252)",
        ),
        (
            'newsletter:\n  title: "Lettre d\'été"\n'.encode("utf-16"),
            "feeds.yaml:1: not UTF-8: the file is saved as UTF-16 (Unicode)",
        ),
        (
            'newsletter:\n  title: "Lettre d\'été"\n'.encode("utf-16-le"),
            "feeds.yaml:1: not UTF-8 text: it holds NUL bytes (saved as UTF-16?)",
        ),
    ],
    ids=["latin-1", "utf-16", "utf-16-without-bom"],
)
def test_a_feeds_yaml_not_in_utf8_says_where(tmp_path: Path, raw: bytes, said: str) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_bytes(raw)
    for command in ("check", "build"):
        refused(digest(config, command, lang="en"), said, SAVE)


def test_a_feeds_yaml_with_a_bom_is_read(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://lettre.example.org")
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())  # Notepad's "UTF-8 with BOM"
    assert digest(config, "check").returncode == 0


def test_an_overrides_file_not_in_utf8_says_where_and_builds_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://lettre.example.org", "issue:\n  overrides: issues\n")
    (tmp_path / "issues").mkdir()
    (tmp_path / "issues" / "2023-W19.md").write_bytes(
        "---\nsubject: Numéro d'été\n---\nBonne lecture !\n".encode("latin-1")
    )
    said = "2023-W19.md:2: not UTF-8 (byte 0xe9 at column 13, « é » in Windows-1252)"
    refused(digest(config, "check", lang="en"), said, SAVE)
    out = tmp_path / "out"
    build = ("build", "--week", "2023-W19", "--offline", "--out", str(out))
    refused(digest(config, *build, lang="en"), said)
    assert not out.exists()


def test_recaps_not_in_utf8_are_reported_in_the_summary_and_the_rest_built(
    tmp_path: Path,
) -> None:
    """Content in Latin-1 or UTF-16, or a file name that is not UTF-8 (a zip from Windows):
    each named in the build summary; the good recap is in the issue."""
    config = write_config(tmp_path, "https://lettre.example.org")
    recaps = tmp_path / "recaps"
    (recaps / "bon.md").write_text(RECAP.replace("l'atelier", "la journée"), encoding="utf-8")
    (recaps / "latin.md").write_bytes(RECAP.encode("latin-1"))
    (recaps / "unicode.md").write_bytes(RECAP.encode("utf-16"))
    with open(os.fsencode(recaps) + b"/r\xe9cap.md", "wb") as handle:  # a bytes name
        handle.write(RECAP.encode("utf-8"))
    out = tmp_path / "out"
    done = digest(config, "build", "--week", "2023-W19", "--offline", "--out", str(out), lang="en")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "3 of 4 recaps not read" in done.stderr
    assert "latin.md:3: not UTF-8 (byte 0xe0 at column 5, « à » in Windows-1252)" in done.stderr
    assert "unicode.md:1: not UTF-8: the file is saved as UTF-16 (Unicode)" in done.stderr
    assert "r\\xe9cap.md: the file name is not UTF-8 (rename the file" in done.stderr
    data = json.loads((out / "digest.json").read_text(encoding="utf-8"))
    titles = [i["title"] for s in data["sections"] for i in s["items"]]
    assert titles == ["Retour sur la journée"]
    (error,) = [s["error"] for s in data["sources"]]
    assert "r\\xe9cap.md" in error  # readable in the JSON too


def test_a_csv_not_in_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, "https://lettre.example.org")
    path = tmp_path / "liste.csv"
    path.write_bytes("email;nom\nanne@example.org;Anne\nleo@example.org;Léo\n".encode("cp1252"))
    refused(
        digest(config, "subscribers", "import", str(path)),
        "liste.csv:3 : pas de l'UTF-8 (octet 0xe9 à la colonne 18, « é » en Windows-1252)",
        "enregistrez-le en CSV UTF-8 (dans Excel : Enregistrer sous,",
    )
    assert digest(config, "subscribers", "list", "--format", "csv").stdout.count("\n") == 1
