"""The SQLite store: the one place that speaks SQL.

It holds what must survive between runs: the fetch cache (ETag, Last-Modified and the last
body, so a 304 still yields the feed's items), when each item was first seen, which items
went out in which issue, the issues as built, subscribers and their consent log, the
confirmation emails double opt-in owes, the delivery outbox and each issue's cuts, and the
staff console's accounts, sessions and audit log. Migrations run on open;
the SQL stays portable (no SQLite-only syntax beyond the pragmas) so PostgreSQL can take
over later. One module per group of tables; `Store` is all of them on one connection.
"""

from __future__ import annotations

from .base import StoreBase
from .confirmations import ConfirmationQueries, DueConfirmation
from .content import (
    PUBLISHED,
    REBUILDABLE,
    ArchivedIssue,
    CachedFetch,
    CacheUpdate,
    ContentQueries,
    FetchForget,
    FetchRefresh,
    ParsedCopy,
    StoredIssue,
)
from .cuts import CutCount, CutQueries, StoredCut
from .memo import BuildMemo, MemoQueries
from .outbox import OutboxQueries
from .people import SubscriberQueries
from .schema import MIGRATIONS
from .staff import AuditEntry, StaffAccount, StaffQueries, StaffSession

__all__ = [
    "MIGRATIONS",
    "PUBLISHED",
    "REBUILDABLE",
    "ArchivedIssue",
    "AuditEntry",
    "BuildMemo",
    "CacheUpdate",
    "CachedFetch",
    "CutCount",
    "DueConfirmation",
    "FetchForget",
    "FetchRefresh",
    "ParsedCopy",
    "StaffAccount",
    "StaffSession",
    "Store",
    "StoreBase",
    "StoredCut",
    "StoredIssue",
]


class Store(
    ContentQueries,
    SubscriberQueries,
    OutboxQueries,
    CutQueries,
    MemoQueries,
    ConfirmationQueries,
    StaffQueries,
):
    """A connection to the store file. Use as a context manager, or call close()."""
