"""The select stage: dates every item, merges duplicates across sources, keeps the period.

Pure functions: the pipeline looks up first-seen times and sent keys in the store and hands
them in, so this module never does I/O and never reads the clock.

The date rule: an item with no date, or dated more than `future_tolerance` hours after
`now` (a partner announcing an event with the event's date as publication date, or a wrong
clock), is dated by when digest first saw it. It then lands in the issue being built when it
first appeared, and never again.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache

from .chars import fold
from .models import Item, Period, Selection
from .urls import canonical_url, strip_tracking

# Words that carry no identity in a French or English headline.
_STOPWORDS = frozenset(
    "a au aux avec c ce ces d dans de des du en et l la le les leur n ou par pour qu que qui"
    " s sa se ses son sur un une y the of and to in on for at with an".split()
)
# French ordinals written three ways: "2e", "2ème", "deuxième" all mean 2.
_ORDINALS = {
    "premier": "1", "premiere": "1", "1er": "1", "1re": "1", "1ere": "1",
    "deuxieme": "2", "second": "2", "seconde": "2", "troisieme": "3", "quatrieme": "4",
    "cinquieme": "5", "sixieme": "6", "septieme": "7", "huitieme": "8", "neuvieme": "9",
    "dixieme": "10",
}  # fmt: skip
_ORDINAL_SUFFIX = re.compile(r"^(\d+)(?:e|eme|er|re|nd|rd|th|st)$")
_WORD = re.compile(r"[a-z0-9]+")
_DIGITS = frozenset("0123456789")
# Short titles ("Agenda", "Lettre d'information") recur across partners for different news.
_MIN_TITLE_TOKENS = 4


def date_items(
    items: Iterable[Item], first_seen: Mapping[str, datetime], now: datetime, tolerance_h: float
) -> tuple[Item, ...]:
    """Every item with a trustworthy `published`, following the module's date rule."""
    limit = trust_limit(now, tolerance_h)
    return tuple(
        item if not needs_first_seen(item, limit) else _first_seen(item, first_seen, now)
        for item in items
    )


def trust_limit(now: datetime, tolerance_h: float) -> datetime:
    """The latest publication date taken as the source gives it."""
    return now + timedelta(hours=tolerance_h)


def needs_first_seen(item: Item, limit: datetime) -> bool:
    """True when the item's own date is missing or too far in the future (after `limit`,
    see trust_limit) to trust."""
    return item.published is None or item.published > limit


def _first_seen(item: Item, first_seen: Mapping[str, datetime], now: datetime) -> Item:
    return replace(item, published=first_seen.get(item.key, now), date_origin="first_seen")


def in_period(item: Item, period: Period) -> bool:
    return item.published is not None and item.published in period


def prepare(items: Iterable[Item]) -> None:
    """Read the items' titles and URLs ahead of `select` (see pipeline: while feeds arrive)."""
    for item in items:
        title_tokens(item.title)
        if item.url:
            canonical_url(item.url)


@lru_cache(maxsize=1 << 16)
def title_tokens(title: str) -> frozenset[str]:
    """The identity-bearing words of a title: no accents, case, stop words; ordinals as digits."""
    flat = fold(title)
    # Set operations in C first: only ordinals written out and words that start with a
    # digit ("2e", "1er") are looked at one by one (a build reads 10,000 titles).
    tokens = set(_WORD.findall(flat)) - _STOPWORDS
    odd = [word for word in tokens if word in _ORDINALS or word[0] in _DIGITS]
    for word in odd:
        match = _ORDINAL_SUFFIX.match(word)
        written = match[1] if match else _ORDINALS.get(word, word)
        if written != word:
            tokens.discard(word)
            if written not in _STOPWORDS:
                tokens.add(written)
    return frozenset(tokens)


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard index of two token sets (1.0: the same words)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def richness(item: Item) -> tuple[int, int, int, int]:
    """Which of two versions of the same news to keep: the larger wins.

    The team's own recap beats a partner's relay of it (its title and lead are the ones the
    team wrote; it borrows the relay's link if it has none); then having a link; then the
    longer summary; then having an image.
    """
    return (
        item.origin == "file",
        item.url is not None,
        len(item.summary_text),
        item.image is not None,
    )


class _Clusters:
    """Union-find over item indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, index: int) -> int:
        while self.parent[index] != index:
            self.parent[index] = self.parent[self.parent[index]]
            index = self.parent[index]
        return index

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for index in range(len(self.parent)):
            found[self.find(index)].append(index)
        return list(found.values())


def _link_same_urls(items: Sequence[Item], clusters: _Clusters) -> None:
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        for url in _url_names(item):
            if url in first:
                clusters.union(index, first[url])
            first.setdefault(url, index)


def _url_names(item: Item) -> tuple[str, ...]:
    """The URLs an item matches others by: its canonical URL; for a linkblog's post (its
    fragment is its identity) that URL with the fragment only, so the posts of one page
    stay apart; an item whose link has a fragment also matches that post."""
    if not item.url:
        return ()
    if item.fragment_key:
        return (canonical_url(item.url, True),)
    if "#" not in item.url:
        return (canonical_url(item.url),)
    return canonical_url(item.url), canonical_url(item.url, True)


def _prefix(words: frozenset[str], rank: dict[str, tuple[int, str]], threshold: float) -> list[str]:
    """The rarest words of a title, enough that two titles at least `threshold` alike
    (Jaccard) must share one of them (prefix filtering: a set-similarity join). `rank`:
    each word's (frequency, word), the order of rarity."""
    ordered = sorted(words, key=rank.__getitem__)
    return ordered[: len(ordered) - math.ceil(threshold * len(ordered)) + 1]


def _link_similar_titles(items: Sequence[Item], clusters: _Clusters, threshold: float) -> None:
    """Join items of different sources whose titles are near-identical.

    Within one source, two entries are two pieces of news even when titled alike (a
    recurring "Les brèves de la semaine"); and titles with different numbers are different
    news ("2e journée" and "3e journée", "n°12" and "n°13"), however alike the rest. Only
    titles with the same numbers that share one of their rarest words are compared, so
    10,000 items cost thousands of comparisons rather than millions.
    """
    tokens = [title_tokens(item.title) for item in items]
    frequency = Counter(word for words in tokens for word in words)
    rank = {word: (count, word) for word, count in frequency.items()}
    postings: dict[tuple[frozenset[str], str], list[int]] = defaultdict(list)
    for index, words in enumerate(tokens):
        if len(words) < _MIN_TITLE_TOKENS:
            continue
        numbers = frozenset(filter(str.isdigit, words))
        keys = [(numbers, word) for word in _prefix(words, rank, threshold)]
        candidates = {other for key in keys for other in postings[key]}
        for key in keys:
            postings[key].append(index)
        for other in candidates:
            if _alike(items, tokens, clusters, index, other, threshold):
                clusters.union(index, other)


def _alike(
    items: Sequence[Item],
    tokens: Sequence[frozenset[str]],
    clusters: _Clusters,
    a: int,
    b: int,
    threshold: float,
) -> bool:
    if items[a].source == items[b].source or clusters.find(a) == clusters.find(b):
        return False
    return similarity(tokens[a], tokens[b]) >= threshold


def merge(group: Sequence[Item]) -> Item:
    """One item for a group of duplicates: the richest, completed from the others."""
    if len(group) == 1:  # most items: only the tracking parameters go
        item = group[0]
        url = strip_tracking(item.url) if item.url else None
        return item if url == item.url else replace(item, url=url)
    best = max(group, key=richness)
    others = [item for item in group if item is not best]
    dates = [i.published for i in group if i.published is not None and i.date_origin == "source"]
    return replace(
        best,
        # The news belongs to the week it first appeared in, whoever told it first.
        published=min(dates) if dates else best.published,
        # Partners' tracking parameters are not passed on to subscribers.
        url=strip_tracking(url) if (url := best.url or _first_url(others)) else None,
        image=best.image or next((i.image for i in others if i.image), None),
        categories=tuple(dict.fromkeys(best.categories + sum((i.categories for i in others), ()))),
        event_date=best.event_date or next((i.event_date for i in others if i.event_date), None),
        place=best.place or next((i.place for i in others if i.place), None),
        theme=best.theme or next((i.theme for i in others if i.theme), None),
        also_in=tuple(dict.fromkeys(i.source for i in others if i.source != best.source)),
    )


def _first_url(items: Sequence[Item]) -> str | None:
    return next((item.url for item in items if item.url), None)


def dedupe(items: Sequence[Item], threshold: float) -> tuple[list[tuple[Item, list[str]]], int]:
    """Merged items, each with the keys of every version, and how many versions were merged."""
    clusters = _Clusters(len(items))
    _link_same_urls(items, clusters)
    _link_similar_titles(items, clusters, threshold)
    merged = []
    for group in clusters.groups():
        versions = [items[index] for index in group]
        merged.append((merge(versions), [item.key for item in versions]))
    return merged, len(items) - len(merged)


def select(
    items: Sequence[Item],
    period: Period,
    sent_keys: Collection[str],
    threshold: float,
) -> Selection:
    """The dated `items` of `period`, duplicates merged, already-sent news left out.

    Duplicates are merged before the period is applied, so a partner relaying last week's
    recap this week does not bring it back.
    """
    merged, duplicates = dedupe(items, threshold)
    kept, out_of_period, already_sent = [], 0, 0
    for item, keys in merged:
        if not in_period(item, period):
            out_of_period += 1
        elif any(key in sent_keys for key in keys):
            already_sent += 1
        else:
            kept.append(item)
    kept.sort(key=lambda item: (item.published, item.title), reverse=True)
    return Selection(tuple(kept), out_of_period, duplicates, already_sent)
