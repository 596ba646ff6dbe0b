"""What the console's issue page shows, as data: the stored issue's items by section (source,
date, the reason it sits there), the overrides file's decisions, the sections an item may
move to, and the issue's history from the audit log.

Everything is text ready to show; the template escapes it (feed titles are untrusted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..config import Config
from ..editing.overrides_file import OverridesFile
from ..i18n import N_, Messages, say, status_label
from ..models import AGENDA_ID, FALLBACK_ID, FEATURED_ID, Period
from ..overrides import reference
from ..render.dates import day_label, period_label
from ..store import REBUILDABLE, AuditEntry, StoredIssue

HISTORY = 50  # audit entries shown


@dataclass(frozen=True)
class ItemView:
    ref: str  # how the overrides file names it ("" when it cannot be named)
    title: str
    url: str
    source: str
    date: str
    reason: str
    pinned: bool
    first: bool  # first of the pinned (no "up")
    last: bool  # last of the pinned (no "down")


@dataclass(frozen=True)
class ExcludedView:
    """An item the overrides file excludes: its title and source as the last build found
    them, or "" when the build did not (no longer in the feeds, or not rebuilt since)."""

    ref: str  # as the overrides file writes it: what *Réintégrer* sends back
    title: str
    source: str


@dataclass(frozen=True)
class SectionView:
    theme: str
    title: str
    items: tuple[ItemView, ...]


@dataclass(frozen=True)
class HistoryLine:
    when: str
    who: str
    what: str


@dataclass(frozen=True)
class IssueView:
    issue_id: str
    week: str
    status: str
    editable: bool
    subject: str
    preheader: str
    sections: tuple[SectionView, ...]
    excluded: tuple[ExcludedView, ...]
    targets: tuple[tuple[str, str], ...]  # (section id, title) an item may move to
    history: tuple[HistoryLine, ...]


def issue_view(
    stored: StoredIssue,
    current: OverridesFile,
    config: Config,
    words: Messages,
    entries: list[AuditEntry],
) -> IssueView:
    data: dict[str, Any] = json.loads(stored.data)
    tz = config.newsletter.tz
    period = Period(stored.id, stored.period_start, stored.period_end)
    raw = [data.get("featured"), *data.get("sections", []), data.get("agenda")]
    sections = tuple(_section(s, config, words) for s in raw if s)
    return IssueView(
        issue_id=stored.id,
        week=period_label(period, tz, words),
        status=status_label(words.language, stored.status, of="issue"),
        editable=stored.status in REBUILDABLE,
        subject=str(data.get("subject") or ""),
        preheader=str(data.get("preheader") or ""),
        sections=sections,
        excluded=_excluded(_listed(current.values.get("exclude")), data.get("excluded")),
        targets=_targets(config, sections, words),
        history=tuple(_history(e, config, words) for e in entries[:HISTORY]),
    )


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def _excluded(names: list[Any], built: Any) -> tuple[ExcludedView, ...]:
    """Each name the overrides file excludes, with the title and source digest.json kept
    for it (matched as the build matched it: by the name's canonical form)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in built if isinstance(built, list) else []:
        if isinstance(entry, dict) and (key := reference(entry.get("ref"))):
            found[key] = entry
    views = []
    for name in map(str, names):
        entry = found.get(reference(name) or name, {})
        views.append(
            ExcludedView(name, str(entry.get("title") or ""), str(entry.get("source") or ""))
        )
    return tuple(views)


def _section(section: dict[str, Any], config: Config, words: Messages) -> SectionView:
    pinned = section.get("theme") == FEATURED_ID
    items = section.get("items", [])
    return SectionView(
        str(section.get("theme", "")),
        str(section.get("title", "")),
        tuple(
            _item(item, config, words, pinned, i == 0, i == len(items) - 1)
            for i, item in enumerate(items)
        ),
    )


def _item(
    item: dict[str, Any], config: Config, words: Messages, pinned: bool, first: bool, last: bool
) -> ItemView:
    published = item.get("published")
    date = (
        day_label(datetime.fromisoformat(published), config.newsletter.tz, words, year=True)
        if published
        else say(words, "issuepage.no_date")
    )
    return ItemView(
        ref=str(item.get("ref") or item.get("url") or ""),
        title=str(item.get("title", "")),
        url=str(item.get("url") or ""),
        source=str(item.get("source", "")),
        date=date,
        reason=str(item.get("reason", "")),
        pinned=pinned,
        first=first,
        last=last,
    )


def _targets(
    config: Config, sections: tuple[SectionView, ...], words: Messages
) -> tuple[tuple[str, str], ...]:
    """The themes, the fallback section and the agenda, with the titles readers see."""
    shown = {s.theme: s.title for s in sections}
    titles = {theme.id: theme.title for theme in config.themes}
    fallback = config.issue.fallback_title or say(words, "issuepage.fallback_section")
    titles.setdefault(FALLBACK_ID, fallback)
    titles[AGENDA_ID] = config.issue.agenda_title or say(words, "issuepage.agenda_section")
    return tuple((i, shown.get(i) or title) for i, title in titles.items())


def _history(entry: AuditEntry, config: Config, words: Messages) -> HistoryLine:
    moment = entry.at.astimezone(config.newsletter.tz)
    when = say(
        words,
        "console.at",
        day=day_label(moment, config.newsletter.tz, words, year=True),
        time=moment.strftime("%H:%M"),
    )
    return HistoryLine(when, entry.actor, describe(entry, words))


# What each action of the issue page reads as in its history.
ACTIONS = {
    "issue_pin": N_("issuepage.history.pin"),
    "issue_unpin": N_("issuepage.history.release"),
    "issue_release": N_("issuepage.history.release"),
    "issue_exclude": N_("issuepage.history.exclude"),
    "issue_move": N_("issuepage.history.move"),
    "issue_up": N_("issuepage.history.order"),
    "issue_down": N_("issuepage.history.order"),
    "issue_texts": N_("issuepage.history.texts"),
    "issue_link": N_("issuepage.history.link"),
    "issue_rebuild": N_("issuepage.history.rebuild"),
    "issue_rebuilt": N_("issuepage.history.rebuilt"),
    "issue_rebuild_failed": N_("issuepage.history.rebuild_failed"),
    "failures_retried": N_("issuepage.history.retried"),
}


def describe(entry: AuditEntry, words: Messages) -> str:
    """One line of history: the action in words, with what it was about."""
    details = {k: str(v) for k, v in entry.details.items()}
    key = ACTIONS.get(entry.action)
    line = say(words, key, **{"item": "", "section": "", "url": "", **details}) if key else ""
    line = line or entry.action
    if entry.details.get("withdrawn"):
        line += " " + say(words, "issuepage.history.withdrawn")
    return line
