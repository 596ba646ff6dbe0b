"""Queries for the arrangement memo (render/memo.py): what the last build of an issue
arranged, under the key of everything that arrangement read."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .base import StoreBase


@dataclass(frozen=True)
class BuildMemo:
    """The last build of an issue: its inputs' key, its digest.json and its warnings."""

    issue_id: str
    inputs: str
    data: str
    warnings: tuple[str, ...]


class MemoQueries(StoreBase):
    def build_memo(self, issue_id: str) -> BuildMemo | None:
        row = self.db.execute(
            "SELECT inputs, data, warnings FROM build_memo WHERE issue_id = ?", (issue_id,)
        ).fetchone()
        if row is None:
            return None
        warnings = json.loads(row[2])
        return BuildMemo(issue_id, row[0], row[1], tuple(str(w) for w in warnings))

    def remember_build(self, memo: BuildMemo) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO build_memo (issue_id, inputs, data, warnings)"
                " VALUES (?, ?, ?, ?)",
                (memo.issue_id, memo.inputs, memo.data, json.dumps(list(memo.warnings))),
            )

    def sent_stamp(self) -> str:
        """What changes whenever an item is recorded as sent (select reads those records)."""
        count, last = self.db.execute(
            "SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM sent_items"
        ).fetchone()
        return f"{count}:{last}"
