"""Queries for what `digest build` keeps: the fetch cache, items seen and sent, issues."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from ..errors import StoreError
from ..i18n import current_staff_language, status_label, t
from .base import StoreBase
from .base import when as _when

# A rebuild replaces the stored issue until its audience is frozen ('sending'). A skipped
# one too: staff who add the missing items to a thin issue rebuild it to have it judged
# again (it comes back as 'built').
REBUILDABLE = ("built", "approved", "skipped")
# An issue that has started going out is published: its archive page answers (a reader who
# got it clicks "view in browser" while deferred rows keep it 'sending' for hours).
PUBLISHED = ("sending", "sent")


@dataclass(frozen=True)
class ParsedCopy:
    """The items a parse of a cached body gave, as the sources encoded them (opaque here)."""

    key: str  # the parser version and the source's settings they were parsed under
    items: bytes
    parsed_at: datetime


@dataclass(frozen=True)
class CachedFetch:
    """What the last successful fetch of a feed returned (and replaces the whole row)."""

    url: str
    etag: str | None
    last_modified: str | None
    body: bytes
    fetched_at: datetime
    body_hash: str | None = None  # of the body as received, with its Content-Type
    fresh_until: datetime | None = None  # Cache-Control: no request before then
    parsed: ParsedCopy | None = None
    # Reads the body from the store when `body` was left out (see Store.cached_fetch).
    load_body: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def has_body(self) -> bool:
        return bool(self.body) or self.load_body is not None

    def body_bytes(self) -> bytes:
        """The body, read now if it was left out."""
        return self.load_body() if self.load_body is not None and not self.body else self.body


@dataclass(frozen=True)
class FetchRefresh:
    """The cached body still holds (a 304, the same body again, a copy still fresh): new
    validators and freshness, and the items when they had to be parsed again."""

    url: str
    etag: str | None
    last_modified: str | None
    fetched_at: datetime
    fresh_until: datetime | None
    parsed: ParsedCopy | None = None


@dataclass(frozen=True)
class FetchForget:
    """The server said `Cache-Control: no-store`: keep no copy of the feed."""

    url: str


CacheUpdate = CachedFetch | FetchRefresh | FetchForget


@dataclass(frozen=True)
class StoredIssue:
    id: str
    period_start: datetime
    period_end: datetime
    built_at: datetime
    data: str
    html: str
    text: str
    web: str
    status: str


@dataclass(frozen=True)
class ArchivedIssue:
    """A sent issue as the archives list it: no HTML, only what a listing shows.

    `teaser` is the preheader stored in digest.json; an issue built before preheaders were
    stored offers its edito's opening and its first titles instead (`openings`)."""

    id: str
    period_start: datetime
    period_end: datetime
    built_at: datetime
    subject: str
    teaser: str
    openings: tuple[str, ...]


# What a listing reads of digest.json, in SQL: never the whole document of every issue.
_ARCHIVED = tuple(
    f"CASE WHEN json_valid(data) THEN json_extract(data, '{path}') END"
    for path in (
        "$.preheader",
        "$.edito",
        "$.featured.items[0].title",
        "$.sections[0].items[0].title",
        "$.sections[1].items[0].title",
    )
)


class ContentQueries(StoreBase):
    """The fetch cache, first-seen and sent items, and built issues."""

    # -- fetch cache -------------------------------------------------------------------

    def cached_fetch(self, url: str, parsed_key: str | None = None) -> CachedFetch | None:
        """The cached copy of `url`. When its items parsed under `parsed_key` are stored,
        its body is left out, to be read only if needed (`body_bytes`): a rebuild of 200
        unchanged feeds reads their items, not 20 MB of bodies."""
        row = self.db.execute(
            "SELECT c.url, etag, last_modified,"
            " CASE WHEN parsed_key = ? AND parsed_items IS NOT NULL THEN NULL ELSE body END,"
            " fetched_at, body_hash, fresh_until, parsed_key, parsed_items, parsed_at,"
            " length(body) FROM fetch_cache c JOIN fetch_copy USING (url) WHERE c.url = ?",
            (parsed_key, url),
        ).fetchone()
        if row is None:
            return None
        parsed = None
        if row[7] and row[8] is not None and row[9]:
            parsed = ParsedCopy(row[7], bytes(row[8]), _when(row[9]))
        fresh_until = _when(row[6]) if row[6] else None
        left_out = row[3] is None and bool(row[10])
        return CachedFetch(
            row[0], row[1], row[2], bytes(row[3] or b""), _when(row[4]), row[5], fresh_until,
            parsed, partial(self._body, url) if left_out else None,
        )  # fmt: skip

    def _body(self, url: str) -> bytes:
        row = self.db.execute("SELECT body FROM fetch_copy WHERE url = ?", (url,)).fetchone()
        return bytes(row[0] or b"") if row else b""

    def fetch_times(self) -> dict[str, datetime]:
        """When each URL in the fetch cache was last fetched with success (200 or 304)."""
        rows = self.db.execute("SELECT url, fetched_at FROM fetch_cache").fetchall()
        return {url: _when(at) for url, at in rows}

    def remember_fetch(self, fetch: CachedFetch) -> None:
        self.remember_fetches([fetch])

    def remember_fetches(self, fetches: Iterable[CacheUpdate]) -> None:
        """Apply these changes to the cached copies of feeds, all in one transaction."""
        with self.transaction() as db:
            for fetch in fetches:
                if isinstance(fetch, FetchRefresh):
                    self._refresh_fetch(fetch)
                    continue
                db.execute("DELETE FROM fetch_cache WHERE url = ?", (fetch.url,))
                db.execute("DELETE FROM fetch_copy WHERE url = ?", (fetch.url,))
                if isinstance(fetch, CachedFetch):
                    self._insert_fetch(fetch)

    def _insert_fetch(self, fetch: CachedFetch) -> None:
        parsed = fetch.parsed
        self.db.execute(
            "INSERT INTO fetch_cache (url, etag, last_modified, fetched_at, fresh_until)"
            " VALUES (?, ?, ?, ?, ?)",
            (fetch.url, fetch.etag, fetch.last_modified, fetch.fetched_at.isoformat(),
             _iso(fetch.fresh_until)),
        )  # fmt: skip
        self.db.execute(
            "INSERT INTO fetch_copy (url, body, body_hash, parsed_key, parsed_items, parsed_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (fetch.url, fetch.body, fetch.body_hash, *_parsed_columns(parsed)),
        )

    def _refresh_fetch(self, fetch: FetchRefresh) -> None:
        self.db.execute(
            "UPDATE fetch_cache SET etag = ?, last_modified = ?, fetched_at = ?, fresh_until = ?"
            " WHERE url = ?",
            (fetch.etag, fetch.last_modified, fetch.fetched_at.isoformat(),
             _iso(fetch.fresh_until), fetch.url),
        )  # fmt: skip
        if fetch.parsed is not None:
            self.db.execute(
                "UPDATE fetch_copy SET parsed_key = ?, parsed_items = ?, parsed_at = ?"
                " WHERE url = ?",
                (*_parsed_columns(fetch.parsed), fetch.url),
            )

    # -- items -------------------------------------------------------------------------

    def first_seen(self, keys: Iterable[str], now: datetime) -> dict[str, datetime]:
        """When each key was first seen; keys never seen before are recorded as seen `now`."""
        keys = list(dict.fromkeys(keys))
        with self.transaction() as db:
            for key in keys:
                db.execute(
                    "INSERT INTO item_seen (item_key, first_seen) SELECT ?, ?"
                    " WHERE NOT EXISTS (SELECT 1 FROM item_seen WHERE item_key = ?)",
                    (key, now.isoformat(), key),
                )
            found = {
                k: _when(v) for k, v in self._select_in("item_key, first_seen", "item_seen", keys)
            }
        return found

    def sent_keys(self, keys: Iterable[str], except_issue: str | None = None) -> set[str]:
        """The keys among `keys` that went out in an issue other than `except_issue`."""
        rows = self._select_in("item_key, issue_id", "sent_items", list(keys))
        return {key for key, issue in rows if issue != except_issue}

    def mark_sent(self, issue_id: str, keys: Iterable[str], when: datetime) -> None:
        with self.transaction() as db:
            for key in dict.fromkeys(keys):
                db.execute(
                    "INSERT INTO sent_items (item_key, issue_id, sent_at) SELECT ?, ?, ?"
                    " WHERE NOT EXISTS"
                    " (SELECT 1 FROM sent_items WHERE item_key = ? AND issue_id = ?)",
                    (key, issue_id, when.isoformat(), key, issue_id),
                )

    def _select_in(self, columns: str, table: str, keys: list[str]) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.db.execute(
                f"SELECT {columns} FROM {table} WHERE item_key IN ({marks})", chunk
            ).fetchall()
        return rows

    # -- issues ------------------------------------------------------------------------

    def save_issue(self, issue: StoredIssue) -> None:
        """Store (or replace, while not yet sent) what `digest build` produced."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM issues WHERE id = ?", (issue.id,)).fetchone()
            if row and row[0] not in REBUILDABLE:
                status = status_label(current_staff_language(), row[0], of="issue")
                raise StoreError(
                    t("store.not_rebuilt", issue=issue.id, status=status),
                    hint=t("store.not_rebuilt_hint"),
                )
            db.execute("DELETE FROM issues WHERE id = ?", (issue.id,))
            db.execute(
                "INSERT INTO issues (id, period_start, period_end, built_at, data, html, text,"
                " web, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'built')",
                (
                    issue.id,
                    issue.period_start.isoformat(),
                    issue.period_end.isoformat(),
                    issue.built_at.isoformat(),
                    issue.data,
                    issue.html,
                    issue.text,
                    issue.web,
                ),
            )

    def issue(self, issue_id: str) -> StoredIssue | None:
        row = self.db.execute(
            "SELECT id, period_start, period_end, built_at, data, html, text, web, status"
            " FROM issues WHERE id = ?",
            (issue_id,),
        ).fetchone()
        if row is None:
            return None
        return StoredIssue(row[0], _when(row[1]), _when(row[2]), _when(row[3]), *row[4:])

    def archived_issues(self, limit: int | None = None) -> list[ArchivedIssue]:
        """Published issues (PUBLISHED), newest first, as the archives, the home page and the
        Atom feed list them."""
        rows = self.db.execute(
            "SELECT id, period_start, period_end, built_at, subject, "
            + ", ".join(_ARCHIVED)
            + f" FROM issues WHERE status IN ({','.join('?' * len(PUBLISHED))}) ORDER BY id DESC"
            + (" LIMIT ?" if limit else ""),
            (*PUBLISHED, limit) if limit else PUBLISHED,
        ).fetchall()
        return [_archived(row) for row in rows]

    def set_issue_status(self, issue_id: str, status: str) -> None:
        with self.transaction() as db:
            cursor = db.execute("UPDATE issues SET status = ? WHERE id = ?", (status, issue_id))
        if not cursor.rowcount:
            raise StoreError(t("store.no_issue", issue=issue_id), hint=t("store.no_issue_hint"))

    def issues_with(self, statuses: tuple[str, ...]) -> list[StoredIssue]:
        """Every issue with one of `statuses`, newest first (ids are ISO weeks: they sort),
        with its data but without html, text and web."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            "SELECT id, period_start, period_end, built_at, data, '', '', '', status"
            f" FROM issues WHERE status IN ({marks}) ORDER BY id DESC",
            statuses,
        ).fetchall()
        return [StoredIssue(r[0], _when(r[1]), _when(r[2]), _when(r[3]), *r[4:]) for r in rows]

    def issues(self, limit: int = 20) -> list[StoredIssue]:
        """The newest stored issues whatever their status, without their content."""
        rows = self.db.execute(
            "SELECT id, period_start, period_end, built_at, data, '', '', '', status"
            " FROM issues ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [StoredIssue(r[0], _when(r[1]), _when(r[2]), _when(r[3]), *r[4:]) for r in rows]


def _archived(row: tuple[Any, ...]) -> ArchivedIssue:
    texts = tuple(str(value) for value in row[6:] if isinstance(value, str) and value.strip())
    return ArchivedIssue(
        row[0],
        _when(row[1]),
        _when(row[2]),
        _when(row[3]),
        str(row[4] or ""),
        str(row[5]) if isinstance(row[5], str) else "",
        texts,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _parsed_columns(parsed: ParsedCopy | None) -> tuple[str | None, bytes | None, str | None]:
    if parsed is None:
        return None, None, None
    return parsed.key, parsed.items, parsed.parsed_at.isoformat()
