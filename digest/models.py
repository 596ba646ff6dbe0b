"""Plain frozen dataclasses that flow between the pipeline stages.

Sources produce `Item`s inside `SourceResult`s; select keeps some; themes group them into
`Section`s; the `Issue` is what render and deliver consume. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SourceStatus = Literal["ok", "not_modified", "error", "skipped"]


@dataclass(frozen=True)
class Item:
    """One news item, from a feed entry or a local recap, already cleaned.

    `title` and `summary_text` are plain text with control characters removed;
    `summary_html` went through the nh3 allowlist; `url` is absolute http(s) or None
    (a local recap with no `url:`). `published` is timezone-aware, or None when the source
    gave no date: select then dates it by when digest first saw it (see select.py).
    """

    key: str
    title: str
    url: str | None
    published: datetime | None
    source: str
    summary_html: str = ""
    summary_text: str = ""
    categories: tuple[str, ...] = ()
    image: str | None = None
    # The picture's own alt text from the feed ("" when it gave none: render then treats the
    # picture as decoration next to its title).
    image_alt: str = ""
    author: str | None = None
    # From recap front matter; None for feed items.
    theme: str | None = None
    event_date: datetime | None = None
    place: str | None = None
    # How `published` was obtained: "source" (the feed/file said so) or "first_seen"
    # (undated or implausibly future-dated; see select.py for the rule).
    date_origin: Literal["source", "first_seen"] = "source"
    # Local recaps are written by the team: richer than a partner's one-line relay.
    origin: Literal["feed", "file"] = "feed"
    guid: str | None = None
    # Names of other sources that carried the same news (filled when duplicates merge).
    also_in: tuple[str, ...] = ()
    # True when the link's #fragment is part of the identity: a linkblog's posts on one
    # page (digest.identity.distinguish_fragments); select and overrides then match on it.
    fragment_key: bool = False
    # The language of the title and summary, a lower-case tag ("fr", "en-us", "de"): as
    # the source declared it, else guessed (digest.sources.language); None: unknown, the
    # newsletter's language is assumed. Decides French typography (render).
    language: str | None = None


@dataclass(frozen=True)
class SourceResult:
    """What one source gave: its items, or the reason it gave none."""

    name: str
    status: SourceStatus
    items: tuple[Item, ...] = ()
    error: str | None = None
    # Conditional GET validators to remember for the next run (feeds only).
    etag: str | None = None
    last_modified: str | None = None
    elapsed_s: float = 0.0
    # What identifies the items, when a hash can say it cheaply (render/memo.py): the stored
    # parsed copy they came from, or the bytes they were parsed from. '': only the items do.
    copy: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "not_modified")


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) in the newsletter's timezone, named like 2023-W19."""

    name: str
    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Selection:
    """What select kept, and why the rest went away (for the build summary)."""

    items: tuple[Item, ...]
    out_of_period: int = 0
    duplicates_merged: int = 0
    already_sent: int = 0
    # How many items select kept, when `items` does not carry them: a build that renders
    # the last one's arrangement again (render/memo.py) has their count, not the items.
    total: int | None = None

    @property
    def count(self) -> int:
        return len(self.items) if self.total is None else self.total


@dataclass(frozen=True)
class Excluded:
    """An item staff left out of an issue (its overrides file's `exclude:`), kept by name so
    that the console can say which item it was: the email and the web page never show it."""

    ref: str  # how the overrides file names it: its URL, or its recap's file name
    title: str  # as the feed gave it: untrusted text
    source: str


@dataclass(frozen=True)
class Section:
    """One theme's items, in the order they will be shown."""

    theme: str
    title: str
    items: tuple[Item, ...]
    # Why each item landed here, keyed by item key ("front matter", "keyword 'climat'").
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Issue:
    """One newsletter issue, ready to render."""

    id: str
    period: Period
    sections: tuple[Section, ...]
    sources: tuple[SourceResult, ...]
    built_at: datetime
    stats: Selection
    # "À la une": items staff pinned in the issue's overrides file, shown first.
    featured: Section | None = None
    # Items whose event_date falls after the issue period, by event date.
    agenda: Section | None = None
    # The edito from the overrides file, as sanitized HTML and as plain text.
    edito_html: str = ""
    edito_text: str = ""
    # Items the caps (issue.max_per_section / max_items) left out of this issue.
    trimmed: int = 0
    # The overrides file's `subject:` and `preheader:` ("": render makes its own).
    subject: str = ""
    preheader: str = ""
    # The items the overrides file excluded, in its order (digest.json's `excluded`).
    excluded: tuple[Excluded, ...] = ()

    @property
    def shown(self) -> int:
        """How many items the issue shows: featured, sections and agenda."""
        blocks = (self.featured, *self.sections, self.agenda)
        return sum(len(block.items) for block in blocks if block is not None)


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    status: str
    language: str
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    themes: tuple[str, ...] = ()  # the theme ids chosen, sorted; none: every theme
    pending_themes: tuple[str, ...] | None = None  # chosen on the form, applied on confirming
    paused_until: datetime | None = None  # no issue is sent to them before this (UTC)


@dataclass(frozen=True)
class ConsentRecord:
    subscriber_id: int
    event: str
    at: datetime
    source: str
    ip: str | None = None
    email_hash: str | None = None
    themes: tuple[str, ...] | None = None  # the set the event chose or applied (None: untouched)
    paused_until: datetime | None = None  # the end of the pause a 'pause' event set


# Section ids of the sections every issue may have besides the configured themes. Shared by
# themes (which fills them) and overrides (which may move items into them).
FALLBACK_ID = "autres"
AGENDA_ID = "agenda"
FEATURED_ID = "une"

# The overrides file names a recap by its file name, without the date the name may start
# with (the recaps source leaves it out of the GUID too).
RECAP = "recap:"
RECAP_FILE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[-_.]|$)")
