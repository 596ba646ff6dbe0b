"""The run lock: a second run is refused at once; a dead run's lock is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from digest.errors import EXIT_LOCKED, AlreadyRunning
from digest.lock import exclusive_run, lock_path

HOLD = """
import sys, time
from pathlib import Path
from digest.lock import exclusive_run
with exclusive_run(Path(sys.argv[1]), "test holder"):
    print("locked", flush=True)
    time.sleep(60)
"""


def hold_lock(store: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_second_run_is_refused_with_exit_75(tmp_path: Path) -> None:
    store = tmp_path / "digest.db"
    holder = hold_lock(store)
    try:
        with pytest.raises(AlreadyRunning) as caught, exclusive_run(store, "second"):
            pass
        assert caught.value.exit_code == EXIT_LOCKED == 75
        assert f"pid {holder.pid}: test holder" in caught.value.message
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_runs_lock_does_not_block_the_next(tmp_path: Path) -> None:
    store = tmp_path / "digest.db"
    holder = hold_lock(store)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert lock_path(store).exists()  # the file stays; the kernel dropped the lock
    with exclusive_run(store, "next"):
        assert "next" in lock_path(store).read_text(encoding="utf-8")


def test_lock_is_released_after_the_block(tmp_path: Path) -> None:
    store = tmp_path / "digest.db"
    with exclusive_run(store, "first"):
        pass
    with exclusive_run(store, "again"):
        assert "pid" in lock_path(store).read_text(encoding="utf-8")
        assert "again" in lock_path(store).read_text(encoding="utf-8")
