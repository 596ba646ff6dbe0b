"""The formula guard of CSV cells a spreadsheet opens, and its exact inverse.

Excel and LibreOffice run a cell that starts with `=`, `+`, `-` or `@` as a formula; a `'`
in front makes it text. The guard goes on free text only (a name, an error message), never
on an address: `-bob@example.org` is a valid address, and a `'` in front is another one.
"""

from __future__ import annotations

import re

# Cells that need the guard: a formula trigger, after any number of quotes. Guarding a
# value that already starts with quotes before a trigger keeps `unguarded` exact: it then
# removes one quote from any cell that has one or more before a trigger.
_NEEDS_GUARD = re.compile(r"'*[=+\-@]")
_GUARDED = re.compile(r"'+[=+\-@]")


def guarded(text: str) -> str:
    """`text` as a spreadsheet cell that shows it and runs nothing."""
    return "'" + text if _NEEDS_GUARD.match(text) else text


def unguarded(cell: str) -> str:
    """The text `guarded` turned into `cell`: unguarded(guarded(t)) == t for every t."""
    return cell[1:] if _GUARDED.match(cell) else cell
