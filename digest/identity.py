"""Item identity: the stable key of an item, shared by every source and by select.

The key is what "never send an item twice" rests on, so it prefers what survives across
sources and feed rewrites: the canonical URL, then the feed's GUID, then a content hash
(the fallback order rss2email learned the hard way).

The canonical URL drops the `#fragment`, which is right for `article.html#comments` but
wrong for a linkblog, whose posts are `2017/06/26.html#a080605`, `...#a030658`: one day
page, many posts. So a fragment joins the key when, in one feed, items share a page but
differ by fragment and are told apart by the feed itself (`distinguish_fragments`). Every
other item keeps the key it always had: keys are stored (sent items, first-seen dates).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace

from .models import Item
from .urls import canonical_url


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def item_key(
    url: str | None,
    guid: str | None,
    source: str,
    title: str,
    text: str,
    *,
    keep_fragment: bool = False,
) -> str:
    """A stable key: from the canonical URL (its fragment too when asked), else the GUID,
    else the content."""
    if url:
        return "u" + _digest(canonical_url(url, keep_fragment))
    if guid:
        return "g" + _digest(source, guid.strip())
    return "h" + _digest(source, title, text)


def identity_url(item: Item) -> str | None:
    """The URL an item is known by: canonical, with its fragment when that names the item."""
    return canonical_url(item.url, item.fragment_key) if item.url else None


def distinguish_fragments(items: Sequence[Item]) -> list[Item]:
    """`items` (one feed's, in order), with the fragment in the key of each item that shares
    its page with another item of a different fragment that the feed tells apart: by GUID
    when every item of the page has one, else by title. Other items are returned as they
    are, so their keys do not change; items of one post (same GUID, or same title without
    GUIDs) linked with two fragments (`#more`, `#comments`) still share one key."""
    result = list(items)
    pages: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        if item.url and "#" in item.url:  # most feeds: no fragment, nothing more to do
            pages[canonical_url(item.url)].append(index)
    if not pages:
        return result
    for index, item in enumerate(items):  # items of those pages without a fragment
        if item.url and "#" not in item.url and canonical_url(item.url) in pages:
            pages[canonical_url(item.url)].append(index)
    for members in pages.values():
        for index in _told_apart([items[i] for i in members]):
            item = result[members[index]]
            url = item.url or ""
            key = item_key(url, item.guid, item.source, item.title, "", keep_fragment=True)
            result[members[index]] = replace(item, key=key, fragment_key=True)
    return result


def _told_apart(page: Sequence[Item]) -> list[int]:
    """Indexes of the items of one page that keep their fragment: those with a fragment
    for which another item has another fragment and another identity (GUID or title)."""
    if len(page) < 2:
        return []
    by_guid = all(item.guid for item in page)
    names = [(item.guid if by_guid else item.title) or "" for item in page]
    fragments = [(item.url or "").partition("#")[2] for item in page]
    per_fragment = Counter(fragments)
    per_name = Counter(names)
    pairs = Counter(zip(names, fragments, strict=True))
    kept = []
    for index, (name, fragment) in enumerate(zip(names, fragments, strict=True)):
        # Items with another name and another fragment: all, minus those with the same
        # name, minus those with the same fragment, plus those counted twice.
        others = len(page) - per_name[name] - per_fragment[fragment] + pairs[name, fragment]
        if fragment and others > 0:
            kept.append(index)
    return kept
