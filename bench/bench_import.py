"""Subscriber import and search benchmark: what the console's "Abonnés" page asks of the store.

A CSV of N new addresses (default 100,000: about the console's 5 MB upload limit) is read
by `import_csv(dry_run=True)` (the console's preview, `import --dry-run`), then imported
(`import_csv`), into a fresh SQLite store in a temporary folder; then the page's search
(`search_subscribers`, a LIKE over address and name) and its counts. The figure that
matters to the site is the longest write transaction of the import: the subscribe form
waits for it. Run: `.venv/bin/python bench/bench_import.py [--rows N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import subscribers as subs  # noqa: E402
from digest.store import Store  # noqa: E402


class TimedStore(Store):
    """A Store that records how long each outermost transaction held the write lock."""

    def __init__(self, path: Path) -> None:
        self.held: list[float] = []
        super().__init__(path)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        outer = not self.db.in_transaction
        started = time.perf_counter()
        with super().transaction() as db:
            yield db
        if outer:
            self.held.append(time.perf_counter() - started)


def _csv(path: Path, rows: int) -> None:
    lines = (f"lecteur{n}@example.org;Lecteur {n};\n" for n in range(rows))
    path.write_text("email;nom;themes\n" + "".join(lines), encoding="utf-8")


def _timed(label: str, work: Any) -> Any:
    started = time.perf_counter()
    result = work()
    print(f"{label}: {time.perf_counter() - started:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = parser.parse_args().rows
    print(f"{platform.machine()}, {os.cpu_count()} cores,"
          f" Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "liste.csv"
        _csv(path, rows)
        print(f"{rows} rows, {path.stat().st_size / 1e6:.1f} MB")
        now = datetime.now(UTC)
        with TimedStore(Path(folder) / "digest.db") as store:
            store.held.clear()  # not the migrations'
            read = _timed("parse only", lambda: subs.parse_csv(path.read_text("utf-8")))
            assert len(read[0]) == rows
            dry = _timed("preview (dry run)", lambda: subs.import_csv(
                store, path, language="fr", now=now, dry_run=True))  # fmt: skip
            assert dry.added == rows and not store.held
            done = _timed("import", lambda: subs.import_csv(store, path, language="fr", now=now))
            assert done.added == rows
            print(f"write transactions: {len(store.held)}, longest {max(store.held) * 1000:.0f} ms,"
                  f" median {sorted(store.held)[len(store.held) // 2] * 1000:.0f} ms")  # fmt: skip
            _timed("search 'lecteur 9999' (one page)",
                   lambda: store.search_subscribers("lecteur 9999", None, None, 50, 0))  # fmt: skip
            _timed("counts by status and theme",
                   lambda: (store.status_counts(), store.theme_choices()))  # fmt: skip


if __name__ == "__main__":
    main()
