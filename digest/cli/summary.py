"""What `digest build` and `digest check --fetch` print for staff: French first.

One summary line, one line per failed source, and a status table; wording per language.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import SourceResult

WORDS = {
    "fr": {
        "summary": (
            "{issue} : {ok} source{ok_s} sur {total} lue{ok_s}, {failed} en échec ; "
            "{items} article{items_s} dans la lettre, {dupes} doublon{dupes_s} fusionné{dupes_s}, "
            "{sent} déjà envoyé{sent_s} → {out}"
        ),
        "failed": "  ✗ {name} : {error}",
        "skipped": "  – {name} : ignorée ({error})",
        "partial": "  ⚠ {name} : lue en partie ({error})",
        "header": ("Source", "État", "Articles", "Détail"),
        "status": {"ok": "ok", "not_modified": "inchangée", "error": "ÉCHEC", "skipped": "ignorée"},
    },
    "en": {
        "summary": (
            "{issue}: {ok} of {total} source{total_s} read, {failed} failed; "
            "{items} item{items_s} in the issue, {dupes} duplicate{dupes_s} merged, "
            "{sent} already sent → {out}"
        ),
        "failed": "  ✗ {name}: {error}",
        "skipped": "  – {name}: skipped ({error})",
        "partial": "  ⚠ {name}: partly read ({error})",
        "header": ("Source", "Status", "Items", "Detail"),
        "status": {
            "ok": "ok",
            "not_modified": "not modified",
            "error": "FAILED",
            "skipped": "skipped",
        },
    },
}


def _plural(count: int, language: str) -> str:
    # French treats 0 and 1 as singular; English only 1.
    singular = count <= 1 if language == "fr" else count == 1
    return "" if singular else "s"


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
    words = WORDS.get(language, WORDS["fr"])
    ok = sum(1 for r in results if r.ok)
    failed = sum(1 for r in results if r.status == "error")
    counts = {"ok": ok, "total": len(results), "items": shown, "dupes": duplicates}
    counts["sent"] = already_sent
    plurals = {f"{k}_s": _plural(v, language) for k, v in counts.items()}
    line = str(words["summary"]).format(issue=issue, failed=failed, out=out, **counts, **plurals)
    lines = [line]
    for result in results:
        if result.error:
            template = str(words[_KIND.get(result.status, "partial")])
            lines.append(template.format(name=result.name, error=result.error))
    return lines


# A source that was read but says what it could not read (a recap folder with a bad file)
# gets a line too: staff must not lose a recap without being told.
_KIND = {"error": "failed", "skipped": "skipped"}


def status_table(results: Sequence[SourceResult], language: str) -> list[str]:
    """A plain-text table of every source's status, for `digest check --fetch`."""
    words = WORDS.get(language, WORDS["fr"])
    statuses: dict[str, str] = words["status"]  # type: ignore[assignment]
    rows = [tuple(words["header"])]
    for r in results:
        rows.append((r.name, statuses.get(r.status, r.status), str(len(r.items)), r.error or ""))
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + ("  " + row[3] if row[3] else "")
        for row in rows
    ]
