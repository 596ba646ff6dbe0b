"""What `digest build` and `digest check --fetch` print for staff, in the staff language.

One summary line, one line per failed source, and a status table; the words come from the
catalogue (build.*, check.*).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..i18n import N_, say
from ..models import SourceResult


def build_summary(
    issue: str,
    results: Sequence[SourceResult],
    shown: int,
    duplicates: int,
    already_sent: int,
    out: str,
    language: str,
) -> list[str]:
    """The build's summary line (`shown`: the items in the issue), then a line per source
    that failed, was skipped or was read only in part."""
    ok = sum(1 for r in results if r.ok)
    failed = sum(1 for r in results if r.status == "error")
    counts = {"ok": ok, "total": len(results), "items": shown, "dupes": duplicates}
    counts["sent"] = already_sent
    lines = [say(language, "build.summary", issue=issue, failed=failed, out=out, **counts)]
    for result in results:
        if result.error:
            key = _PROBLEMS.get(result.status, _PARTLY_READ)
            lines.append(say(language, key, name=result.name, error=result.error))
    return lines


# A source that was read but says what it could not read (a recap folder with a bad file)
# gets a line too: staff must not lose a recap without being told.
_PROBLEMS = {"error": N_("build.source_failed"), "skipped": N_("build.source_skipped")}
_PARTLY_READ = N_("build.source_partial")

_HEADS = (
    N_("check.head.source"),
    N_("check.head.status"),
    N_("check.head.items"),
    N_("check.head.detail"),
)
# A source's status in the table; a status not listed shows as it is.
_STATUSES = {
    "ok": N_("check.status.ok"),
    "not_modified": N_("check.status.not_modified"),
    "error": N_("check.status.error"),
    "skipped": N_("check.status.skipped"),
}


def status_table(results: Sequence[SourceResult], language: str) -> list[str]:
    """A plain-text table of every source's status, for `digest check --fetch`."""
    rows = [tuple(say(language, key) for key in _HEADS)]
    for r in results:
        key = _STATUSES.get(r.status)
        status = say(language, key) if key else r.status
        rows.append((r.name, status, str(len(r.items)), r.error or ""))
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + ("  " + row[3] if row[3] else "")
        for row in rows
    ]
