"""One run at a time: an exclusive, non-blocking lock beside the store.

flock(2) locks belong to the open file, so the kernel releases them when the process dies,
however it dies (kill -9, OOM, reboot): a dead run's lock never blocks the next cron run,
and no stale-PID guessing is needed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import AlreadyRunning
from .i18n import t
from .store.faults import store_error


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock")


@contextmanager
def exclusive_run(store: Path, what: str) -> Iterator[None]:
    """Hold the run lock for the store at `store`; raise AlreadyRunning (exit 75) at once."""
    path = lock_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only folder: said like the store's own faults
        raise store_error(store, exc) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 200, 0).decode("utf-8", "replace").strip()
            raise AlreadyRunning(
                t("lock.held", holder=holder or t("lock.unknown_holder")),
                hint=t("lock.held_hint", path=path),
            ) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"pid {os.getpid()}: {what}\n".encode(), 0)
        yield
    finally:
        os.close(handle)
