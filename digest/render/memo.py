"""The arrangement memo: a rebuild whose inputs have not changed renders what the last build
of the issue arranged, instead of selecting and arranging every item again.

    inputs_key(results, config, period, now, overrides, sent) -> str
    reused_issue(memo, inputs, results, now) -> (Issue, warnings) | None

Why: the build cron and staff run most often is a rebuild of an unchanged week (every feed
answers 304); selecting and arranging 10,000 items took a quarter of it (BENCHMARKS.md).

The key is a hash of everything selection and arrangement read, so that an equal key means
an equal arrangement: the code (its version and files), the config, the week, the staff
language (reasons and warnings are written in it), the overrides, the items of every source
in order (by the id of the stored copy or of the bytes they were parsed from, when they
have one, else by their own repr), which items need their first-seen date at `now` (the
one way `now` reaches selection), and the records of sent items (`sent`). Anything else
makes a new key, and the build is done in full; the price of a missed change would be a
stale issue, the price of a needless full build is a second.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from datetime import datetime
from functools import cache
from pathlib import Path

from .. import __version__
from ..config import Config
from ..i18n import current_staff_language, staff_language
from ..models import Issue, Period, Selection, SourceResult
from ..overrides import Overrides
from ..select import needs_first_seen, trust_limit
from ..store import BuildMemo
from .cuts import issue_from_data

MEMO_VERSION = "1"  # bump when what the key covers changes


def inputs_key(
    results: tuple[SourceResult, ...],
    config: Config,
    period: Period,
    now: datetime,
    overrides: Overrides,
    sent: str,
) -> str:
    """The key of what `choose` and `arrange` read for this build (see the module)."""
    key = hashlib.blake2b(digest_size=20)
    languages = f"{staff_language(config)} {current_staff_language()}"
    for part in (MEMO_VERSION, __version__, _code_stamp(), repr(config), period.name):
        key.update(part.encode() + b"\0")
    for part in (languages, repr(overrides), sent):
        key.update(part.encode() + b"\0")
    limit = trust_limit(now, config.select.future_tolerance)
    for result in results:
        identity = result.copy or repr(result.items)
        key.update(f"{result.name}\0{identity}\0".encode())
        undated = [item.key for item in result.items if needs_first_seen(item, limit)]
        key.update("\0".join(undated).encode() + b"\1")
    return key.hexdigest()


def reused_issue(
    memo: BuildMemo | None, inputs: str, results: tuple[SourceResult, ...], now: datetime
) -> tuple[Issue, tuple[str, ...]] | None:
    """The issue the memo's build arranged, with this build's sources and time, and its
    warnings; None when the memo is of other inputs, or damaged (then the build is done in
    full: a damaged cache costs a build, never the issue)."""
    if memo is None or memo.inputs != inputs:
        return None
    try:
        stats = json.loads(memo.data)["stats"]
        selection = Selection(
            (),
            out_of_period=int(stats["out_of_period"]),
            duplicates_merged=int(stats["duplicates_merged"]),
            already_sent=int(stats["already_sent"]),
            total=int(stats["items"]),
        )
        issue = issue_from_data(memo.data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return replace(issue, sources=results, built_at=now, stats=selection), memo.warnings


@cache
def _code_stamp() -> str:
    """The package's files as they are now (name, size, time): a changed template, message
    catalogue or module makes a new key, even at the same version (a checkout in use)."""
    root = Path(__file__).resolve().parent.parent
    paths = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        paths += [os.path.join(folder, name) for name in files]
    stamp = hashlib.blake2b(digest_size=16)
    for path in sorted(paths):
        status = os.stat(path)
        stamp.update(f"{path} {status.st_size} {status.st_mtime_ns}\0".encode())
    return stamp.hexdigest()
