"""An in-memory sliding-window rate limiter against subscription bombing.

In memory means per process: with several uvicorn workers or hosts, each counts on its own
(the README says so). Memory stays bounded: old hits are dropped, and past `max_keys`
the least recently seen keys are forgotten.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds."""

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str) -> bool:
        """Count one hit for `key`; False when it is over the limit (the hit is not counted)."""
        now = self.clock()
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now)
        self._hits[key] = hits
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        return allowed


class NoLimit(RateLimiter):
    """Rate limiting turned off (`site.rate_limit: false`, e.g. for the benchmark)."""

    def __init__(self) -> None:
        super().__init__(1, 1.0)

    def hit(self, key: str) -> bool:
        return True
