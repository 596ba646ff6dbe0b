"""The site's way to the store: every call runs in a worker thread, never on the event loop.

Why: a write waits for the lock when another process holds it (`digest send`, an import, a
script), and a wait on the event loop stalls every page of the site, the stylesheet
included. In a thread, a write waits at most `busy_timeout` seconds (SQLite's busy timeout,
and as long for its turn), then raises StoreBusy, which the site answers with 503 and
`Retry-After`. Meanwhile the pages that only read go on answering: in WAL mode a reader never
waits for a writer, and reads and writes have their own limit of threads, so writes waiting
for a lock never take the threads the reads need.

Connections come from a small pool, each used by one thread at a time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from ..errors import StoreLocked
from ..store import Store

BUSY_TIMEOUT = 5.0  # seconds a write waits for a lock held elsewhere (then 503)
RETRY_AFTER = 10  # seconds the 503 asks the client to wait before trying again
READERS = 8  # store calls that only read, at once
WRITERS = 2  # store calls that write, at once (SQLite lets one write at a time anyway)

T = TypeVar("T")


class StoreBusy(Exception):
    """Another connection held the store's write lock for longer than the busy timeout."""


def lock_timed_out(exc: BaseException) -> bool:
    """Whether `exc` is SQLite giving up on a lock another connection held (SQLITE_BUSY or
    SQLITE_LOCKED, extended codes included) rather than a real failure: the store's
    StoreLocked, or the raw sqlite3 error where a connection does not translate it."""
    if isinstance(exc, StoreLocked):
        return True
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    busy = code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and busy


class StoreAccess:
    """A pool of store connections used from worker threads. `open` and `close` come from
    the app's lifespan; `read` and `write` from the handlers, on the event loop."""

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._idle: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False
        self._readers = anyio.CapacityLimiter(READERS)
        self._writers = anyio.CapacityLimiter(WRITERS)

    async def open(self) -> None:
        """Open a first connection, which migrates the store: a store that cannot be opened
        stops the site at start (StoreError), not at its first visitor."""
        self._closed = False
        # Made here, on the loop that will use them (a site may be served more than once).
        self._readers = anyio.CapacityLimiter(READERS)
        self._writers = anyio.CapacityLimiter(WRITERS)
        store = await anyio.to_thread.run_sync(self._connect)
        self._checkin(store)

    async def read(self, work: Callable[[Store], T]) -> T:
        """`work(store)` in a worker thread, for calls that only read."""
        return await self._run(work, self._readers)

    async def write(self, work: Callable[[Store], T]) -> T:
        """`work(store)` in a worker thread; StoreBusy if the write lock stayed held by
        someone else for `busy_timeout` seconds (the work then changed nothing)."""
        return await self._run(work, self._writers)

    def close(self) -> None:
        """Close the idle connections (the lifespan calls it once requests are done)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()

    async def _run(self, work: Callable[[Store], T], limiter: anyio.CapacityLimiter) -> T:
        # The turn is taken here, with a deadline, rather than by to_thread.run_sync: a
        # deadline reaching a call already in its thread would lose the call's result.
        turn = False
        with anyio.move_on_after(self.busy_timeout):
            await limiter.acquire()
            turn = True
        if not turn:
            raise StoreBusy(f"no turn to use the store within {self.busy_timeout:g} s")
        try:
            return await anyio.to_thread.run_sync(self._call, work)
        finally:
            limiter.release()

    def _call(self, work: Callable[[Store], T]) -> T:
        """In a worker thread: `work` on a pooled connection; a lock wait that ran out is
        StoreBusy, any other error is the caller's."""
        store = self._checkout()
        try:
            return work(store)
        except (sqlite3.OperationalError, StoreLocked) as exc:
            if lock_timed_out(exc):
                raise StoreBusy(f"the store stayed locked: {exc}") from exc
            raise
        finally:
            self._checkin(store)

    def _connect(self) -> Store:
        return Store(self.path, busy_timeout=self.busy_timeout, check_same_thread=False)

    def _checkout(self) -> Store:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        # At most READERS + WRITERS connections are ever in use: the limits bound the pool.
        return self._connect()

    def _checkin(self, store: Store) -> None:
        # A connection left inside a transaction (a failure between BEGIN and COMMIT that
        # nothing rolled back) is never handed to the next request: close it.
        with self._lock:
            if not self._closed and not store.db.in_transaction:
                self._idle.append(store)
                return
        store.close()
