"""SIGINT (Ctrl-C) and SIGTERM during a send: stop cleanly first, at once if asked again.

    with catching_signals(stop, notify):   # SIGINT, SIGTERM now only set `stop`
        ...  the run checks stop.requested between messages

The first signal lets the messages in flight get their reply, so that what the server
accepted is recorded and nobody is sent twice on resume; queued messages are not sent. A
second one stops at once: the few messages then in flight are sent again, with the same
Message-ID, by the next run (as after a crash). Either way the exit code is 128 + the
signal's number (DESIGN.md §3): 130 for Ctrl-C, 143 for SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """What the signals asked of a run; shared by its threads (reads need no lock)."""

    def __init__(self) -> None:
        self.signal: int | None = None  # the first one received
        self.count = 0
        self._event = threading.Event()

    def request(self, signal_number: int) -> None:
        """One more signal: the first asks for a clean stop, the next for a stop at once."""
        self.signal = self.signal or signal_number
        self.count += 1
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def at_once(self) -> bool:
        """Asked twice: do not wait for the messages in flight."""
        return self.count > 1

    @property
    def name(self) -> str:
        return signal.Signals(self.signal or signal.SIGINT).name

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process a signal ended."""
        return 128 + int(self.signal or signal.SIGINT)

    def sleep(self, seconds: float) -> None:
        """time.sleep that a stop cuts short (a retry or a quota wait is no reason to stay)."""
        self._event.wait(seconds)


Notify = Callable[[Stop], None]


@contextmanager
def catching_signals(stop: Stop, notify: Notify | None = None) -> Iterator[Stop]:
    """While inside, SIGINT and SIGTERM only call `stop.request` (and `notify`, to tell the
    person who pressed Ctrl-C what happens now); the previous handlers come back on the way
    out. Python runs handlers in the main thread only: elsewhere this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signal_number: int, frame: FrameType | None) -> None:
        stop.request(signal_number)
        if notify is not None:
            notify(stop)

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, signal.SIG_DFL if old is None else old)
