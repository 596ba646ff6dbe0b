"""Item identity: the stable key of an item, shared by every source and by select.

The key is what "never send an item twice" rests on, so it prefers what survives across
sources and feed rewrites: the canonical URL, then the feed's GUID, then a content hash
(the fallback order rss2email learned the hard way).
"""

from __future__ import annotations

import hashlib

from .urls import canonical_url


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def item_key(url: str | None, guid: str | None, source: str, title: str, text: str) -> str:
    """A stable key: from the canonical URL, else the GUID, else the content."""
    if url:
        return "u" + _digest(canonical_url(url))
    if guid:
        return "g" + _digest(source, guid.strip())
    return "h" + _digest(source, title, text)
