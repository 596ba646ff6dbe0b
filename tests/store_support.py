"""Stores as an older digest left them, for the tests of the migrations that follow."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from digest.store import MIGRATIONS


def store_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A store file with only its first `version` migrations applied (`with` commits it)."""
    db = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        db.executescript(script)
        db.execute(f"PRAGMA user_version = {number}")
    return db
