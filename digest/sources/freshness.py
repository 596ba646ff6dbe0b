"""Cache-Control for feeds: until when a cached copy may be used without asking the server.

`freshness(headers, now)` reads a response's `Cache-Control` (`max-age` less `Age`,
`no-cache`, `no-store`); `still_fresh(cached, now)` says whether a copy may still be used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from ..store import CachedFetch

__all__ = ["MAX_FRESHNESS", "freshness", "still_fresh"]

# The longest a Cache-Control max-age is trusted: a server asking not to be polled more
# often is obeyed, but a static host's one-year max-age must not hide a week of posts.
MAX_FRESHNESS = timedelta(hours=1)


def freshness(headers: Mapping[str, str], now: datetime) -> tuple[datetime | None, bool]:
    """Until when the response may be used without asking (None: ask every time), and
    whether it may be kept at all (`no-store`: not)."""
    directives = _cache_control(headers.get("cache-control", ""))
    if "no-store" in directives:
        return None, False
    if "no-cache" in directives:
        return None, True
    seconds = _seconds(directives.get("max-age")) - _seconds(headers.get("age"))
    if seconds <= 0:
        return None, True
    return now + min(timedelta(seconds=seconds), MAX_FRESHNESS), True


def _cache_control(value: str) -> dict[str, str]:
    directives = {}
    for part in value.split(","):
        name, _, argument = part.partition("=")
        if name.strip():
            directives[name.strip().lower()] = argument.strip().strip('"')
    return directives


def _seconds(value: str | None) -> int:
    """A delta-seconds value; 0 when absent or not a number (then the copy is stale)."""
    return int(value) if value and value.strip().isdigit() else 0


def still_fresh(cached: CachedFetch, now: datetime) -> bool:
    return cached.fresh_until is not None and cached.fetched_at <= now < cached.fresh_until
