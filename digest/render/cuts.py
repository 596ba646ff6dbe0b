"""Cuts: the issue as one reader gets it, given the themes they chose (issue 14).

    issue_from_data(data) -> Issue              a stored digest.json read back
    cut_key(chosen, issue, known) -> str        which cut a reader with `chosen` themes gets
    cut_issue(issue, key) -> Issue              that cut: edito, "À la une", agenda + sections
    cut_items(issue, key) -> int                items in the cut's own sections (thin check)

Every reader gets the edito, "À la une" and the agenda; a reader who chose themes gets only
those sections. Readers with the same sections present *in this issue* share one cut, so a
cut is keyed by those sections, not by the reader's choice: `WHOLE` ('') is the issue as
built; `COMMON` is the common parts alone (none of the reader's sections is in this issue);
else the section ids, sorted, separated by spaces. The fallback section ("autres") is no
theme anyone can choose: only readers of the whole issue get it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..models import Excluded, Issue, Item, Period, Section, Selection

WHOLE = ""  # the issue as built: readers who chose no theme, or every one
COMMON = "+"  # none of the reader's sections is in this issue ('+' is in no theme id)


def cut_key(chosen: str, issue: Issue, known: Collection[str]) -> str:
    """The cut of a reader whose `subscribers.themes` is `chosen`. Ids no longer in
    feeds.yaml (`known`) are ignored; a reader left with none, or with every theme, gets
    the whole issue; so does one whose sections are all the issue has."""
    wanted = {i for i in chosen.split() if i in known}
    if not wanted or wanted >= set(known):
        return WHOLE
    present = [s.theme for s in issue.sections if s.items]
    mine = sorted(t for t in present if t in wanted)
    if len(mine) == len(present):
        return WHOLE
    return " ".join(mine) or COMMON


def key_sections(key: str) -> tuple[str, ...]:
    """The section ids a (non-whole) cut keeps."""
    return () if key == COMMON else tuple(key.split())


def cut_issue(issue: Issue, key: str) -> Issue:
    """The issue as the readers of cut `key` get it (the subject and preheader that render
    computes then follow the cut; staff's own, from the overrides file, stay)."""
    if key == WHOLE:
        return issue
    kept = set(key_sections(key))
    return replace(issue, sections=tuple(s for s in issue.sections if s.theme in kept))


def cut_items(issue: Issue, key: str) -> int:
    """How many items the cut's own sections hold (edito, "À la une", agenda not counted)."""
    return sum(len(s.items) for s in cut_issue(issue, key).sections)


def issue_from_data(data: str) -> Issue:
    """The Issue a stored digest.json describes, enough to render it again (render.data
    writes every field the templates use). An issue stored before the edito's HTML was
    kept gets its paragraphs back from the plain text."""
    raw: dict[str, Any] = json.loads(data)
    period = raw["period"]
    overrides = raw.get("overrides") or {}
    edito_text = raw.get("edito") or ""
    return Issue(
        id=raw["issue"],
        period=Period(raw["issue"], _moment(period["start"]), _moment(period["end"])),
        sections=tuple(_section(s) for s in raw.get("sections", [])),
        sources=(),
        built_at=_moment(raw.get("built_at") or period["start"]),
        stats=Selection(()),
        featured=_section(raw["featured"]) if raw.get("featured") else None,
        agenda=_section(raw["agenda"]) if raw.get("agenda") else None,
        edito_html=raw.get("edito_html", _paragraphs(edito_text)),
        edito_text=edito_text,
        trimmed=int(raw.get("stats", {}).get("trimmed", 0)),
        subject=overrides.get("subject", ""),
        preheader=overrides.get("preheader", ""),
        excluded=tuple(_excluded(e) for e in raw.get("excluded") or ()),
    )


def _excluded(raw: dict[str, Any]) -> Excluded:
    return Excluded(str(raw["ref"]), raw.get("title") or "", raw.get("source") or "")


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in parts)


def _section(raw: dict[str, Any]) -> Section:
    items = tuple(_item(i) for i in raw.get("items", []))
    reasons = {i["key"]: i["reason"] for i in raw.get("items", []) if i.get("reason")}
    return Section(raw["theme"], raw.get("title") or "", items, reasons)


def _item(raw: dict[str, Any]) -> Item:
    return Item(
        key=raw["key"],
        title=raw.get("title") or "",
        url=raw.get("url"),
        published=_optional(raw.get("published")),
        source=raw.get("source") or "",
        summary_html=raw.get("summary_html") or "",
        summary_text=raw.get("summary") or "",
        categories=tuple(raw.get("categories") or ()),
        image=raw.get("image"),
        image_alt=raw.get("image_alt") or "",
        author=raw.get("author"),
        event_date=_optional(raw.get("event_date")),
        place=raw.get("place"),
        date_origin="first_seen" if raw.get("date_origin") == "first_seen" else "source",
        also_in=tuple(raw.get("also_in") or ()),
        language=raw.get("language"),
        guid=_recap_guid(raw),
    )


def _recap_guid(raw: dict[str, Any]) -> str | None:
    """Enough of a recap's guid for its `ref` to be written again (overrides.written_name):
    digest.json names a recap by its file, not by the guid's folder."""
    ref = raw.get("ref")
    if raw.get("url") or not isinstance(ref, str) or not ref.endswith(".md"):
        return None
    return "file:" + ref.removesuffix(".md")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _optional(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
