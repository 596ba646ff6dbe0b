"""Dates at the edge of the calendar (issue 10): one message and a hint, exit 2, nothing
built or stored; the last and first days digest works with still work. The real CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.store import Store
from tests.cli_support import digest
from tests.web_support import write_config

OUTSIDE = "est en dehors des dates que digest connaît (du 1900-01-01 au 9998-12-31)"


@pytest.mark.parametrize(
    "args",
    [
        ("build", "--week", "9999-W52"),
        ("build", "--week", "0001-W01"),
        ("build", "--as-of", "0001-01-01"),
        ("build", "--as-of", "9999-12-31T23:59"),
        ("build", "--as-of", "9998-12-31T23:59-12:00"),  # already 9999 in Paris
        ("build", "--as-of", "0001-01-01T00:00+05:00"),  # before year 1 in UTC
        ("build", "--since", "2023-05-08", "--until", "9999-12-31"),
        ("build", "--since", "0001-01-01", "--until", "2023-05-14"),
        ("run", "--offline", "--as-of", "0001-01-01"),
        ("run", "--offline", "--as-of", "9999-12-31T23:59"),
        ("approve", "2023-W19", "--as-of", "0001-01-01"),
        ("approve", "2023-W19", "--as-of", "9999-12-31"),
    ],
    ids=lambda args: " ".join(args),
)
def test_a_date_outside_the_calendar_is_bad_usage(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = write_config(tmp_path, "https://lettre.example.org")
    out = tmp_path / "out"
    if args[0] == "approve":  # an issue to approve, so that the clock is what is refused
        built = digest(config, "build", "--offline", "--week", "2023-W19", "--out", str(out))
        assert built.returncode == 0, built.stderr
    extra = ("--offline", "--out", str(out)) if args[0] == "build" else ()
    done = digest(config, *args, *extra)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert OUTSIDE in done.stderr and "vérifiez l'année : une faute de frappe ?" in done.stderr
    with Store(tmp_path / "digest.db") as store:
        assert [i.id for i in store.issues(10)] == (["2023-W19"] if args[0] == "approve" else [])
        assert [i.status for i in store.issues(10)] == (["built"] if args[0] == "approve" else [])
    if args[0] == "build":
        assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--week", "9998-W53"),
        ("--as-of", "9998-12-31T23:59"),
        ("--since", "9998-12-01", "--until", "9998-12-31"),
        ("--as-of", "1900-01-01"),
    ],
    ids=lambda args: " ".join(args),
)
def test_the_first_and_last_days_still_build(tmp_path: Path, args: tuple[str, ...]) -> None:
    config = write_config(tmp_path, "https://lettre.example.org")
    done = digest(config, "build", "--offline", *args, "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "digest.json").is_file()
