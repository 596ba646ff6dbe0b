"""Queries for an issue's cuts: the theme choices in use, each cut as rendered when sending
started, and how many readers each cut went to (render/cuts.py says what a cut is).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .base import StoreBase, moment
from .outbox import AUDIENCE


@dataclass(frozen=True)
class StoredCut:
    """One cut of an issue, rendered once for all its readers."""

    cut: str  # the section ids, sorted, separated by spaces; '+': the common parts only
    subject: str
    html: str  # with the per-subscriber placeholders, as the whole issue's
    text: str
    web: str  # the page its readers' "view in browser" link shows
    items: int  # items in the cut's own sections


@dataclass(frozen=True)
class CutCount:
    """How many outbox rows of one cut have one status."""

    cut: str  # '' = the whole issue
    status: str
    count: int


class CutQueries(StoreBase):
    """The cuts of each issue."""

    def audience_theme_choices(self, now: datetime) -> list[str]:
        """The distinct `subscribers.themes` values of the audience a freeze would take at
        `now` (a handful: readers with the same choice share it)."""
        rows = self.db.execute(
            f"SELECT DISTINCT themes FROM subscribers WHERE {AUDIENCE}", (moment(now),)
        )
        return [str(r[0]) for r in rows]

    def save_cuts(self, issue_id: str, cuts: Iterable[StoredCut]) -> None:
        """Keep the cuts rendered for `issue_id` (in the freeze's transaction)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO issue_cuts (issue_id, cut, subject, html, text, web, items)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(issue_id, c.cut, c.subject, c.html, c.text, c.web, c.items) for c in cuts],
            )

    def issue_cuts(self, issue_id: str) -> list[StoredCut]:
        """Every cut rendered for `issue_id` (none before sending starts)."""
        rows = self.db.execute(
            "SELECT cut, subject, html, text, web, items FROM issue_cuts WHERE issue_id = ?",
            (issue_id,),
        )
        return [StoredCut(*r) for r in rows]

    def issue_cut_web(self, issue_id: str, cut: str) -> str | None:
        """The web page of one cut (a reader's "view in browser"), if there is that cut."""
        row = self.db.execute(
            "SELECT web FROM issue_cuts WHERE issue_id = ? AND cut = ?", (issue_id, cut)
        ).fetchone()
        return str(row[0]) if row else None

    def cut_counts(self, issue_id: str) -> list[CutCount]:
        """Outbox rows by cut and status: who got (or is due, or was spared) which sections."""
        rows = self.db.execute(
            "SELECT cut, status, COUNT(*) FROM outbox WHERE issue_id = ?"
            " GROUP BY cut, status ORDER BY cut, status",
            (issue_id,),
        )
        return [CutCount(str(r[0]), str(r[1]), int(r[2])) for r in rows]
