"""Cuts at delivery: each reader gets the sections they chose (render/cuts.py).

    freeze(config, store, stored, domain, now)        audience + cuts, one transaction
    thin_choices(config, data, choices)               choices a freeze would skip
    templates(config, store, issue_id, whole, now)    the message of every cut, built once

When sending starts, the theme choices in use are read, each distinct cut is rendered once
from the stored digest.json and kept in the store, and every outbox row is given its cut,
all in the transaction that freezes the audience: a resume sends each reader the cut they
were due, whatever they chose since. A cut whose own sections hold fewer than
`schedule.min_items` items is not rendered: its readers' rows are 'skipped' ("nothing for
your themes this week"), which is final and blames nobody. The whole issue is sent as
`digest build` stored it (what staff reviewed): it is never rendered again here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..config import Config
from ..i18n import say, staff_language
from ..models import Issue
from ..render import render_cuts
from ..render.cuts import WHOLE, cut_items, cut_key, issue_from_data, key_sections
from ..store import Store, StoredCut, StoredIssue
from .message import MessageTemplate, build_template, clean_header


@dataclass(frozen=True)
class CutPlan:
    """Which cut each theme choice gets, the cuts rendered, and those too thin to send."""

    cuts: dict[str, str]  # subscribers.themes value -> cut key
    rendered: tuple[StoredCut, ...]
    skipped: dict[str, str]  # cut key -> why its readers are skipped


def freeze(config: Config, store: Store, stored: StoredIssue, domain: str, now: datetime) -> None:
    """Render the cuts in use and freeze the audience with them, in one transaction (a
    render error leaves nothing frozen). The write lock is held while the cuts render:
    a few milliseconds each, and a subscribe meanwhile waits for it."""
    with store.transaction():
        choices = store.audience_theme_choices(now)
        reason = say(staff_language(config), "delivery.skipped_thin")
        plan = plan_cuts(config, stored.data, choices, reason)
        store.save_cuts(stored.id, plan.rendered)
        store.freeze_audience(stored.id, domain, now, plan.cuts, plan.skipped)


def plan_cuts(config: Config, data: str, choices: Iterable[str], reason: str) -> CutPlan:
    """The cut of each theme choice, and every cut but the whole issue rendered once."""
    choices = list(choices)
    if all(not c.strip() for c in choices):  # nobody chose themes: nothing to cut
        return CutPlan(dict.fromkeys(choices, WHOLE), (), {})
    issue = issue_from_data(data)
    cuts = _cut_keys(config, issue, choices)
    keys = sorted(set(cuts.values()) - {WHOLE})
    items = {key: cut_items(issue, key) for key in keys}
    skipped = {key: reason for key in keys if items[key] < config.schedule.min_items}
    keys = [key for key in keys if key not in skipped]
    # Each cut as its readers get it: the subject and preheader computed for its items.
    outputs = render_cuts(issue, config, [key_sections(key) for key in keys])
    rendered = (
        StoredCut(key, clean_header(out.subject), out.html, out.text, out.web, items[key])
        for key, out in zip(keys, outputs, strict=True)
    )
    return CutPlan(cuts, tuple(rendered), skipped)


def thin_choices(config: Config, data: str, choices: Iterable[str]) -> set[str]:
    """The theme choices (`subscribers.themes` values) whose cut of the issue stored as
    `data` is too thin to send: what a freeze would mark 'skipped' (`send --dry-run`)."""
    chosen = [c for c in choices if c.strip()]
    if not chosen:
        return set()
    issue = issue_from_data(data)
    cuts = _cut_keys(config, issue, chosen)
    least = config.schedule.min_items
    return {c for c, key in cuts.items() if key != WHOLE and cut_items(issue, key) < least}


def _cut_keys(config: Config, issue: Issue, choices: Iterable[str]) -> dict[str, str]:
    known = [theme.id for theme in config.themes]
    return {c: cut_key(c, issue, known) for c in choices}


def templates(
    config: Config, store: Store, issue_id: str, whole: MessageTemplate, now: datetime
) -> dict[str, MessageTemplate]:
    """The message template of every cut of the issue, by cut key ('' is `whole`). Built
    once per run, before any thread sends: the pool's threads only read this."""
    built = {WHOLE: whole}
    for cut in store.issue_cuts(issue_id):
        built[cut.cut] = build_template(
            config, issue_id, cut.subject, cut.html, cut.text, now, cut=cut.cut
        )
    return built
