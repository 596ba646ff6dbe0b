"""Themes stage: puts each selected item in one section, builds the agenda, applies the caps.

`assign_theme` decides one item's section and says why (front matter > feed category >
keywords > the source's default > the fallback section `autres`). `arrange` applies the
issue's overrides (pin, exclude, move), sends upcoming events to the agenda, orders and caps
the sections, and returns an `Arrangement` with the reason of every item and the warnings
staff should read. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import TYPE_CHECKING

from .chars import fold
from .config import Config, SourceConfig, ThemeConfig
from .i18n import N_, messages, say, staff_language
from .models import (
    AGENDA_ID,
    FALLBACK_ID,
    FEATURED_ID,
    RECAP,
    Excluded,
    Item,
    Period,
    Section,
)
from .overrides import written_name
from .urls import canonical_url

if TYPE_CHECKING:
    from .overrides import Overrides

# A keyword in the title says more about the item than one in passing in the summary.
TITLE_WEIGHT = 3
SUMMARY_WEIGHT = 1

# The titles of the sections themes do not name, unless feeds.yaml gives its own.
DEFAULT_TITLES = {
    FALLBACK_ID: N_("theme.fallback"),
    FEATURED_ID: N_("theme.featured"),
    AGENDA_ID: N_("theme.agenda"),
}

# A word, after the French elided words before it ("l'", "d'", "qu'", "jusqu'"...), which
# are dropped so "l'alimentation" is "alimentation". The \b keeps "aujourd'hui" whole: its
# "d" is not at a word start. The group is atomic: an elision with no word after it ("l' ")
# is dropped too, not read as the word "l"; and a word never starts inside another (the
# "u" of a dropped "qu'"). One regex, so the text is scanned once.
_TOKEN = re.compile(
    r"(?>(?:\b(?:jusqu|lorsqu|puisqu|quoiqu|presqu|qu|[cdjlmnst])')*)(?<![a-z0-9])([a-z0-9]+)"
)
_NEVER = datetime.min.replace(tzinfo=UTC)


# ---------------------------------------------------------------- words and keywords


@lru_cache(maxsize=65536)  # a week's vocabulary is small and repeats a lot
def stem(word: str) -> str:
    """A light French stemmer: plural (-s, -x, -aux) and feminine (-e, -ive, -enne...) only.

    Singular and plural, masculine and feminine of one word meet ("participatif",
    "participatives"); different words of one family do not ("participation",
    "climatique", "climatisation" each stay themselves). Words of 3 letters or fewer stay.
    """
    if len(word) <= 3:
        return word
    if word.endswith("eaux"):
        word = word[:-1]
    elif word.endswith("aux"):
        word = word[:-3] + "al"
    elif word.endswith(("eux", "oux", "s")) and not word.endswith("ss"):
        word = word[:-1]
    for feminine, masculine in (("ive", "if"), ("enne", "en"), ("elle", "el"), ("ere", "er")):
        if word.endswith(feminine) and len(word) > len(feminine) + 2:
            return word[: -len(feminine)] + masculine
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def prepare(items: Iterable[Item]) -> None:
    """Read the items' words ahead of `arrange` (see pipeline: while feeds arrive)."""
    for item in items:
        surface(item.title)
        surface(item.summary_text)
        for category in item.categories:
            _category_key(category)


@lru_cache(maxsize=1 << 16)  # arrange asks twice (categories), prepare ahead of it
def words(text: str) -> tuple[str, ...]:
    """The stemmed words of `text`, in order, elisions left out: what keywords match."""
    return tuple(map(stem, surface(text)))


@lru_cache(maxsize=1 << 16)  # prepare reads each text ahead of arrange
def surface(text: str) -> tuple[str, ...]:
    """The words of `text` as written (folded, elisions left out), before stemming."""
    return tuple(_TOKEN.findall(fold(text)))


def occurrences(phrase: tuple[str, ...], text: tuple[str, ...]) -> int:
    """How many times the word sequence `phrase` appears in `text` (whole words only)."""
    size = len(phrase)
    return sum(1 for i in range(len(text) - size + 1) if size and text[i : i + size] == phrase)


# How many distinct words the keyword memo keeps (a week has a few thousand).
_MAX_LEARNED = 200_000
# (theme position, keyword position, keyword as written, its words)
_Keyword = tuple[int, int, str, tuple[str, ...]]


@dataclass(frozen=True)
class _Rules:
    """The themes' keywords and categories, folded once per config.

    Keywords are indexed by their first word. A text is scored on the set of its distinct
    words, intersected in C with the words already known to start a keyword (`by_surface`,
    which learns each new word of the week once: its stem, then its keywords). Why: a
    week of 10,000 items has a million words but a few thousand distinct ones, and a loop
    over every word cost most of a rebuild's themes stage.
    """

    ids: tuple[str, ...]
    starts: dict[str, tuple[_Keyword, ...]]
    categories: tuple[frozenset[str], ...]
    # A memo, not state: word as written -> the keywords its stem starts (mutated in place).
    by_surface: dict[str, tuple[_Keyword, ...]] = field(default_factory=dict)
    starting: set[str] = field(default_factory=set)  # by_surface's words: set & set is C
    learned: set[str] = field(default_factory=set)

    def scores(self, text: str, weight: int, into: dict[_Keyword, int]) -> None:
        written = surface(text)
        distinct = set(written)
        self._learn(distinct)
        phrases = False
        for word in distinct & self.starting:
            for keyword in self.by_surface[word]:
                if len(keyword[3]) > 1:
                    phrases = True
                else:
                    into[keyword] = into.get(keyword, 0) + weight * written.count(word)
        if phrases:
            self._phrases(words(text), weight, into)

    def _learn(self, distinct: set[str]) -> None:
        if len(self.learned) > _MAX_LEARNED:  # a server rebuilding week after week
            self.learned.clear()
            self.by_surface.clear()
            self.starting.clear()
        for word in distinct - self.learned:
            self.learned.add(word)
            found = self.starts.get(stem(word))
            if found:
                self.by_surface[word] = found
                self.starting.add(word)

    def _phrases(self, text: tuple[str, ...], weight: int, into: dict[_Keyword, int]) -> None:
        """Keywords of several words, matched in order on the stemmed text."""
        for position, word in enumerate(text):
            for keyword in self.starts.get(word, ()):
                phrase = keyword[3]
                if len(phrase) > 1 and text[position : position + len(phrase)] == phrase:
                    into[keyword] = into.get(keyword, 0) + weight


# The rules of the config's themes tuple last asked for, by identity. Why: an lru_cache
# hashes its key at every call, and the hash of a tuple of frozen dataclasses is computed
# again each time (every keyword of every theme): twice per item, 20,000 times a build.
_last_rules: dict[int, tuple[tuple[ThemeConfig, ...], _Rules]] = {}


def _rules(themes: tuple[ThemeConfig, ...]) -> _Rules:
    known = _last_rules.get(id(themes))
    if known is not None and known[0] is themes:
        return known[1]
    _last_rules.clear()  # one config at a time; keeping `themes` keeps its id unique
    _last_rules[id(themes)] = (themes, _folded_rules(themes))
    return _last_rules[id(themes)][1]


@lru_cache(maxsize=16)
def _folded_rules(themes: tuple[ThemeConfig, ...]) -> _Rules:
    starts: dict[str, list[_Keyword]] = {}
    for t, theme in enumerate(themes):
        for k, keyword in enumerate(theme.keywords):
            phrase = words(keyword)
            if phrase:
                starts.setdefault(phrase[0], []).append((t, k, keyword, phrase))
    return _Rules(
        ids=tuple(theme.id for theme in themes),
        starts={word: tuple(found) for word, found in starts.items()},
        categories=tuple(frozenset(" ".join(words(c)) for c in t.categories) for t in themes),
    )


# ---------------------------------------------------------------- one item's theme


# Why an item sits in its section, written only when asked: most of a big week's items are
# left out by the caps, and writing 10,000 reasons in the staff language cost more than
# choosing their sections.
Why = Callable[[], str]
Rule = Callable[[Item, Config, "SourceConfig | None"], "tuple[str, Why] | None"]


def assign_theme(item: Item, config: Config, source: SourceConfig | None) -> tuple[str, str]:
    """(theme id, reason): the section `item` belongs to, and why (staff read the reason in
    digest.json: in their language)."""
    theme_id, why = _assign(item, config, source)
    return theme_id, why()


def _assign(item: Item, config: Config, source: SourceConfig | None) -> tuple[str, Why]:
    theme_ids = _rules(config.themes).ids
    chosen = None
    for rule in _RULES:
        found = rule(item, config, source)
        if found is not None and found[0] in theme_ids:
            chosen = found
            break
    theme_id, why = chosen or (FALLBACK_ID, _why(config, N_("reason.fallback")))
    if item.theme and _front_matter(item, config) is None:
        return theme_id, partial(_unknown_theme_reason, config, why, item.theme)
    return theme_id, why


def _why(config: Config, key: str, **fields: object) -> Why:
    """A reason, written in the staff language when it is read."""
    return partial(_staff_say, config, key, fields)


def _staff_say(config: Config, key: str, fields: dict[str, object]) -> str:
    return say(staff_language(config), key, **fields)


def _unknown_theme_reason(config: Config, why: Why, theme: str) -> str:
    return say(staff_language(config), "reason.unknown_theme", reason=why(), theme=theme)


def _front_matter(item: Item, config: Config) -> str | None:
    """The theme named by the recap's front matter: by id, or by its title."""
    if not item.theme:
        return None
    wanted = " ".join(fold(item.theme).split())
    for theme in config.themes:
        if wanted in (theme.id, " ".join(fold(theme.title).split())):
            return theme.id
    return None


def _front_matter_rule(
    item: Item, config: Config, source: SourceConfig | None
) -> tuple[str, Why] | None:
    theme = _front_matter(item, config)
    return (theme, _why(config, N_("reason.front_matter"))) if theme else None


def _category(item: Item, config: Config, source: SourceConfig | None) -> tuple[str, Why] | None:
    """The source's own mapping first (it knows its feed), then the themes' `categories:`."""
    folded = [(_category_key(raw), raw) for raw in item.categories]
    mapping = _mapping(tuple(source.categories.items())) if source and source.categories else {}
    for key, raw in folded:
        if key in mapping:
            why = _why(config, N_("reason.source_category"), category=raw, source=item.source)
            return mapping[key], why
    rules = _rules(config.themes)
    for theme_id, categories in zip(rules.ids, rules.categories, strict=True):
        for key, raw in folded:
            if key in categories:
                return theme_id, _why(config, N_("reason.category"), category=raw)
    return None


@lru_cache(maxsize=1 << 12)
def _category_key(category: str) -> str:
    return " ".join(words(category))


@lru_cache(maxsize=256)
def _mapping(categories: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """A source's `categories:` mapping, its keys folded like the items' categories."""
    return {_category_key(key): theme for key, theme in categories}


def _keywords(item: Item, config: Config, source: SourceConfig | None) -> tuple[str, Why] | None:
    """The theme whose keywords score best; ties go to the theme listed first."""
    rules = _rules(config.themes)
    hits: dict[_Keyword, int] = {}
    rules.scores(item.title, TITLE_WEIGHT, hits)
    rules.scores(item.summary_text, SUMMARY_WEIGHT, hits)
    totals: dict[int, int] = {}
    for keyword, score in hits.items():
        totals[keyword[0]] = totals.get(keyword[0], 0) + score
    if not totals:
        return None
    best = min(totals, key=lambda t: (-totals[t], t))
    return rules.ids[best], partial(_keywords_reason, config, hits, best)


def _keywords_reason(config: Config, hits: dict[_Keyword, int], best: int) -> str:
    """The reason names the strongest keywords, in the theme's own order on a tie."""
    named = sorted((k for k in hits if k[0] == best), key=lambda k: (-hits[k], k[1]))
    names = ", ".join(f"'{k[2]}'" for k in named[:3]) + (", …" if len(named) > 3 else "")
    return say(staff_language(config), "reason.keywords", count=len(named), names=names)


def _source_default(
    item: Item, config: Config, source: SourceConfig | None
) -> tuple[str, Why] | None:
    if source and source.theme:
        return source.theme, _why(config, N_("reason.source_default"))
    return None


_RULES: tuple[Rule, ...] = (_front_matter_rule, _category, _keywords, _source_default)


# ---------------------------------------------------------------- the whole issue


@dataclass(frozen=True)
class Arrangement:
    """The sections of one issue, as render shows them."""

    featured: Section | None
    sections: tuple[Section, ...]
    agenda: Section | None
    trimmed: int
    # Keys of the items the caps left out, and what staff should read before sending
    # (an override naming no item of the issue, a recap naming an unknown theme, the caps).
    trimmed_keys: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    excluded: tuple[Excluded, ...] = ()  # what the overrides' `exclude:` left out


Placed = tuple[Item, Why]


def arrange(
    items: Sequence[Item], config: Config, period: Period, overrides: Overrides
) -> Arrangement:
    """Group `items` (already selected) into the issue's sections."""
    # Overrides name items by URL or file name; most weeks have none, and 10,000 canonical
    # URLs cost more than the rest of this stage.
    named = overrides.pin or overrides.exclude or overrides.move
    by_url = (
        {ref: i for i in reversed(items) for ref in item_references(i.url, i.guid, i.fragment_key)}
        if named
        else {}
    )
    sources = {source.name: source for source in config.sources}
    warnings = _unmatched(overrides, by_url, period, config) + _unknown_themes(items, config)
    left_out = [item for u in overrides.exclude if (item := named_item(by_url, u))]
    excluded = {item.key for item in left_out}
    pinned = [item for u in overrides.pin if (item := named_item(by_url, u))]
    moved = {item.key: t for u, t in overrides.move.items() if (item := named_item(by_url, u))}
    pinned_keys = {item.key for item in pinned}
    buckets: dict[str, list[Placed]] = {}
    for item in items:
        if item.key not in excluded and item.key not in pinned_keys:
            target, why = (
                (moved[item.key], _why(config, N_("reason.moved"), label=overrides.label))
                if item.key in moved
                else _place(item, config, period, sources.get(item.source))
            )
            buckets.setdefault(target, []).append((item, why))
    for target, placed in buckets.items():
        placed.sort(key=_agenda_order if target == AGENDA_ID else _section_order)
    trimmed = _cap_sections(buckets, config.issue.max_per_section)
    trimmed += _cap_issue(buckets, config.issue.max_items - len(pinned), config)
    if trimmed:
        warnings.append(_trimmed_note(len(trimmed), config))
    return Arrangement(
        featured=_featured(pinned, config, overrides),
        sections=_sections(buckets, config),
        agenda=_section(AGENDA_ID, _title(config, AGENDA_ID), buckets.get(AGENDA_ID, [])),
        trimmed=len(trimmed),
        trimmed_keys=tuple(item.key for item in trimmed),
        warnings=tuple(warnings),
        excluded=tuple(_excluded(item) for item in left_out),
    )


def _excluded(item: Item) -> Excluded:
    return Excluded(written_name(item.url, item.guid) or item.url or "", item.title, item.source)


def _place(
    item: Item,
    config: Config,
    period: Period,
    source: SourceConfig | None,
) -> tuple[str, Why]:
    """(section id, why) for an item that is neither pinned, excluded nor moved."""
    event = _aware(item.event_date, config)
    if event is not None and event >= period.end:
        day = event.astimezone(config.newsletter.tz).date().isoformat()
        return AGENDA_ID, _why(config, N_("reason.event"), day=day)
    return _assign(item, config, source)


def _aware(moment: datetime | None, config: Config) -> datetime | None:
    """A date-only event (naive) is local to the newsletter."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=config.newsletter.tz)


def item_references(url: str | None, guid: str | None, fragment_key: bool = False) -> list[str]:
    """The names an item answers to in an overrides file: its canonical URL (with its
    fragment for a linkblog's post, see digest.identity), and `recap:<file name>` for a
    recap (its GUID is `file:<folder/name>`)."""
    names = [canonical_url(url, fragment_key)] if url else []
    if guid and guid.startswith("file:"):
        names.append(RECAP + guid.removeprefix("file:").rsplit("/", 1)[-1].lower())
    return names


def _published(item: Item) -> datetime:
    return item.published or _NEVER


def _section_order(placed: Placed) -> tuple[bool, float]:
    """The team's recaps first, then newest first."""
    item = placed[0]
    return item.origin != "file", -_published(item).timestamp()


def _agenda_order(placed: Placed) -> tuple[float, str]:
    item = placed[0]
    moment = item.event_date or _published(item)
    # Naive event dates are local; UTC here is close enough to order them among others.
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.timestamp(), item.title


def _victim(placed: list[Placed], agenda: bool) -> int:
    """Which entry a cap drops first: a feed item before a recap; the oldest one, or in the
    agenda the event furthest away."""
    feed = [i for i, (item, _) in enumerate(placed) if item.origin != "file"]
    pool = feed or list(range(len(placed)))
    if agenda:
        return max(pool, key=lambda i: _agenda_order(placed[i]))
    return min(pool, key=lambda i: _published(placed[i][0]))


def _cap_sections(buckets: dict[str, list[Placed]], cap: int) -> list[Item]:
    dropped: list[Item] = []
    for target, placed in buckets.items():
        if target != AGENDA_ID:
            # Sorted recaps first, then feed items newest first: the tail is what `_victim`
            # would pick one by one (the oldest feed items, then the oldest recaps).
            dropped += [item for item, _ in placed[cap:]]
            del placed[cap:]
        while len(placed) > cap:
            dropped.append(placed.pop(_victim(placed, agenda=True))[0])
    return dropped


def _cap_issue(buckets: dict[str, list[Placed]], room: int, config: Config) -> list[Item]:
    """Trim the busiest section first, so every theme keeps its best items."""
    order = [*(t.id for t in config.themes), FALLBACK_ID, AGENDA_ID]
    dropped: list[Item] = []
    while sum(map(len, buckets.values())) > max(room, 0):
        has_feed = [t for t, p in buckets.items() if any(i.origin != "file" for i, _ in p)]
        pool = has_feed or [t for t, p in buckets.items() if p]
        # Ties go to the section shown last: the fallback before the themes.
        target = max(pool, key=lambda t: (len(buckets[t]), order.index(t) if t in order else 0))
        placed = buckets[target]
        dropped.append(placed.pop(_victim(placed, target == AGENDA_ID))[0])
    return dropped


def _title(config: Config, section_id: str) -> str:
    """The section's title for readers: feeds.yaml's, else the catalogue's, else its id."""
    configured = {t.id: t.title for t in config.themes}
    configured[FALLBACK_ID] = configured.get(FALLBACK_ID) or config.issue.fallback_title
    configured[AGENDA_ID] = config.issue.agenda_title
    configured[FEATURED_ID] = config.issue.featured_title
    if configured.get(section_id):
        return configured[section_id]
    key = DEFAULT_TITLES.get(section_id)
    return say(messages(config.newsletter.language, config.templates), key) if key else section_id


def _section(section_id: str, title: str, placed: Sequence[Placed]) -> Section | None:
    if not placed:
        return None
    reasons = {item.key: why() for item, why in placed}
    return Section(section_id, title, tuple(item for item, _ in placed), reasons)


def _sections(buckets: dict[str, list[Placed]], config: Config) -> tuple[Section, ...]:
    """Configured theme order, the fallback section last; empty sections left out."""
    ids = [t.id for t in config.themes]
    ids += [FALLBACK_ID] if FALLBACK_ID not in ids else []
    built = (_section(i, _title(config, i), buckets.get(i, [])) for i in ids)
    return tuple(section for section in built if section is not None)


def _featured(pinned: list[Item], config: Config, overrides: Overrides) -> Section | None:
    why = _why(config, N_("reason.pinned"), label=overrides.label)
    placed = [(item, why) for item in pinned]
    return _section(FEATURED_ID, _title(config, FEATURED_ID), placed)


def _trimmed_note(count: int, config: Config) -> str:
    caps = f"issue.max_per_section {config.issue.max_per_section}"
    caps += f", issue.max_items {config.issue.max_items}"
    return say(staff_language(config), "build.trimmed", count=count, caps=caps)


def named_item(by_url: dict[str, Item], reference: str) -> Item | None:
    """The item an overrides file names: by its URL with the fragment (a linkblog's post),
    else without it (the fragment of an ordinary item's link never stops a match)."""
    found = by_url.get(reference)
    return found if found is not None else by_url.get(reference.partition("#")[0])


def _unmatched(
    overrides: Overrides, by_url: dict[str, Item], period: Period, config: Config
) -> list[str]:
    wanted = [("pin", u) for u in overrides.pin] + [("exclude", u) for u in overrides.exclude]
    wanted += [("move", u) for u in overrides.move]
    language, name = staff_language(config), overrides.label
    return [
        say(language, "build.unmatched", label=name, kind=kind, url=url, issue=period.name)
        for kind, url in wanted
        if named_item(by_url, url) is None
    ]


def _unknown_themes(items: Sequence[Item], config: Config) -> list[str]:
    language = staff_language(config)
    return [
        say(language, "build.unknown_theme", title=item.title, source=item.source, theme=item.theme)
        for item in items
        if item.theme and _front_matter(item, config) is None
    ]
