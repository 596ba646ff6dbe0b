"""The issue as data: what `digest build` writes to digest.json (DESIGN.md §4).

Besides the contract's keys it tells staff *why*: each item's section reason, where its
date came from, which other sources carried it, and what select left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Issue, Item, Section, SourceResult
from ..overrides import written_name
from ..text import sanitized_links


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def item_data(item: Item, reason: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": item.key,
        "title": item.title,
        "url": item.url,
        # How the per-issue overrides file names it (the console's pin/exclude/move write it).
        "ref": written_name(item.url, item.guid),
        "published": _when(item.published),
        "source": item.source,
        "summary": item.summary_text,
        "summary_html": item.summary_html,
        "categories": list(item.categories),
        "links": [{"text": text, "url": url} for text, url in sanitized_links(item.summary_html)],
        "image": item.image,
        "image_alt": item.image_alt,
        "author": item.author,
        "date_origin": item.date_origin,
        "also_in": list(item.also_in),
        # The text's language ("fr", "en-us"; null: unknown, the newsletter's is assumed).
        "language": item.language,
    }
    if reason is not None:
        data["reason"] = reason
    if item.event_date is not None:
        data["event_date"] = _when(item.event_date)
        data["place"] = item.place
    return data


def section_data(section: Section) -> dict[str, Any]:
    return {
        "theme": section.theme,
        "title": section.title,
        "items": [item_data(i, section.reasons.get(i.key)) for i in section.items],
    }


def source_data(result: SourceResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status,
        "items": len(result.items),
        "error": result.error,
    }


def issue_data(issue: Issue, language: str, subject: str, preheader: str) -> dict[str, Any]:
    """The JSON-ready dict of `issue`, with the `subject` and `preheader` its email uses."""
    return _contents(issue, language, subject, preheader) | _excluded(issue)


def _excluded(issue: Issue) -> dict[str, Any]:
    """What staff excluded, named for the console (only when there is any: an issue without
    exclusions keeps the digest.json it always had). No render reads it."""
    if not issue.excluded:
        return {}
    return {"excluded": [{"ref": e.ref, "title": e.title, "source": e.source}
                         for e in issue.excluded]}  # fmt: skip


def _contents(issue: Issue, language: str, subject: str, preheader: str) -> dict[str, Any]:
    stats = issue.stats
    return {
        "issue": issue.id,
        "language": language,
        "subject": subject,
        "preheader": preheader,
        "period": {"start": _when(issue.period.start), "end": _when(issue.period.end)},
        "built_at": _when(issue.built_at),
        "edito": issue.edito_text,
        # What delivery needs to render a reader's cut again (render/cuts.py): the edito as
        # sanitized HTML, and staff's own subject and preheader ("": render made them).
        "edito_html": issue.edito_html,
        "overrides": {"subject": issue.subject, "preheader": issue.preheader},
        "featured": section_data(issue.featured) if issue.featured else None,
        "sections": [section_data(s) for s in issue.sections],
        "agenda": section_data(issue.agenda) if issue.agenda else None,
        "sources": [source_data(r) for r in issue.sources],
        "stats": {
            "items": stats.count,
            "shown": issue.shown,
            "out_of_period": stats.out_of_period,
            "duplicates_merged": stats.duplicates_merged,
            "already_sent": stats.already_sent,
            "trimmed": issue.trimmed,
        },
    }
