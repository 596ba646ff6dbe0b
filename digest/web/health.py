"""The console's "Sources" page: each configured source's health, and "tester maintenant".

Health comes from what the store already holds: the sources of the recent builds (each
issue's digest.json: status, items, error) and the fetch cache (when a feed's URL last
answered 200 or 304). A test reads one source now with the build's own code and limits
(`pipeline.probe_source`) and keeps nothing: not the fetch cache, not an issue.

Everything here is text ready to show, in the staff language; the template escapes it
(feed names, URLs and errors are untrusted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import Config, SourceConfig
from ..i18n import N_, Messages, say
from ..models import SourceResult
from ..pipeline import probe_source
from ..store import Store, StoredIssue
from . import staff
from .dashboard import moment_text
from .security import client_ip, limit_key

if TYPE_CHECKING:
    from .console import Console

RECENT = 12  # builds looked back through to tell since when a source fails
SHOWN_ITEMS = 10  # titles a test shows
STATES = {
    "ok": N_("console.source_ok"),
    "not_modified": N_("console.source_not_modified"),
    "error": N_("console.source_error"),
    "skipped": N_("console.source_skipped"),
    "unknown": N_("console.source_unknown"),
}
KINDS = {
    "feed": N_("console.kind_feed"),
    "file": N_("console.kind_file"),
    "recaps": N_("console.kind_recaps"),
}
SOURCE_TESTED = "source_tested"  # the audit log's action
_HTTP = re.compile(r"HTTP (\d{3})\b")


@dataclass(frozen=True)
class SourceHealth:
    name: str
    kind: str
    location: str
    state: str  # ok, not_modified, error, skipped, unknown (no build lists it): for CSS
    status: str  # the state in words
    http: str  # the HTTP status the error names, else ""
    items: int | None  # in the latest build that lists it
    error: str
    since: str  # failing since (the first build of an unbroken run of failures), else ""
    checked: str  # when the latest build that lists it was made, else ""
    last_fetch: str  # when its URL last answered 200 or 304, else ""


@dataclass(frozen=True)
class ProbeView:
    name: str
    state: str
    status: str
    http: str
    items: int
    titles: tuple[str, ...]
    error: str
    seconds: float


def health(store: Store, config: Config, words: Messages) -> tuple[SourceHealth, ...]:
    """Every configured source, in the config's order, as the recent builds saw it."""
    tz = config.newsletter.tz
    runs = [(issue.built_at, _results(issue)) for issue in store.issues(RECENT)]
    fetched = store.fetch_times()
    return tuple(_health(s, runs, fetched, tz, words) for s in config.sources)


def _health(
    source: SourceConfig,
    runs: list[tuple[datetime, dict[str, dict[str, object]]]],
    fetched: dict[str, datetime],
    tz: ZoneInfo,
    words: Messages,
) -> SourceHealth:
    seen = [(at, results[source.name]) for at, results in runs if source.name in results]
    latest = seen[0][1] if seen else {}
    state = str(latest.get("status", "unknown"))
    error = str(latest.get("error") or "")
    last = fetched.get(source.url or "")
    return SourceHealth(
        name=source.name,
        kind=say(words, KINDS[_kind(source)]),
        location=source.url or str(source.path or ""),
        state=state if state in STATES else "unknown",
        status=say(words, STATES.get(state, STATES["unknown"])),
        http=_http_status(error),
        items=int(str(latest["items"])) if "items" in latest else None,
        error=error if state == "error" else "",
        since=_failing_since(seen, tz, words) if state == "error" else "",
        checked=moment_text(seen[0][0], tz, words) if seen else "",
        last_fetch=moment_text(last, tz, words) if last else "",
    )


def _failing_since(
    seen: list[tuple[datetime, dict[str, object]]], tz: ZoneInfo, words: Messages
) -> str:
    """When the unbroken run of failures that ends with the latest build began."""
    since = seen[0][0]
    for at, result in seen[1:]:
        if result.get("status") != "error":
            break
        since = at
    return moment_text(since, tz, words)


def _results(issue: StoredIssue) -> dict[str, dict[str, object]]:
    sources = json.loads(issue.data).get("sources", [])
    return {str(s["name"]): s for s in sources if isinstance(s, dict) and "name" in s}


def _kind(source: SourceConfig) -> str:
    if source.url:
        return "feed"
    return "file" if source.is_feed_file else "recaps"


def _http_status(error: str) -> str:
    found = _HTTP.match(error)
    return found.group(1) if found else ""


def probe_view(source: SourceConfig, result: SourceResult, words: Messages) -> ProbeView:
    """A test's result as the page shows it."""
    state = result.status if result.status in STATES else "unknown"
    http = "200" if source.url and result.status == "ok" else _http_status(result.error or "")
    return ProbeView(
        name=source.name,
        state=state,
        status=say(words, STATES[state]),
        http=http,
        items=len(result.items),
        titles=tuple(item.title for item in result.items[:SHOWN_ITEMS]),
        error=result.error or "",
        seconds=result.elapsed_s,
    )


class SourcePages:
    """The handlers of /admin/sources, on the console's policy (pages, CSRF, audit)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.site = console.site
        self._probing: anyio.CapacityLimiter | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/admin/sources", self.index, methods=["GET"]),
            Route("/admin/sources/test", self.test, methods=["POST"]),
        ]

    async def index(self, request: Request) -> Response:
        site, words = self.site, self.console.words
        found = await site.store.read(lambda db: health(db, site.config, words))
        return self.console.signed_in(
            request, "sources.html", current="sources", sources=found, probe=None
        )

    async def test(self, request: Request) -> Response:
        form = await self.console.posted(request)
        if form is None:
            return self.console.stale(request)
        source = _source_named(self.site.config, str(form.get("source", "")))
        if source is None:
            return await self._index_with(request, say(self.console.words, "console.no_source"))
        result = await self._probe(source)
        view = probe_view(source, result, self.console.words)
        await self._audit(request, view)
        site, words = self.site, self.console.words
        found = await site.store.read(lambda db: health(db, site.config, words))
        return self.console.signed_in(
            request, "sources.html", current="sources", sources=found, probe=view
        )

    async def _index_with(self, request: Request, error: str) -> Response:
        site, words = self.site, self.console.words
        found = await site.store.read(lambda db: health(db, site.config, words))
        return self.console.signed_in(
            request,
            "sources.html",
            status=400,
            current="sources",
            sources=found,
            error=error,
            probe=None,
        )

    async def _probe(self, source: SourceConfig) -> SourceResult:
        # One test at a time: each starts parser processes, and staff clicking twice must
        # not fetch a partner's feed twice at once.
        if self._probing is None:
            self._probing = anyio.CapacityLimiter(1)
        now, config = self.site.clock(), self.site.config
        return await anyio.to_thread.run_sync(
            probe_source, config, source, now, limiter=self._probing
        )

    async def _audit(self, request: Request, view: ProbeView) -> None:
        who = self.console.who(request)
        now, ip = self.site.clock(), limit_key(client_ip(request))
        details: dict[str, object] = {"source": view.name, "status": view.state}
        details |= {"items": view.items, "error": view.error}
        await self.site.store.write(
            lambda db: staff.audit(db, who, SOURCE_TESTED, details, now=now, ip=ip)
        )


def _source_named(config: Config, name: str) -> SourceConfig | None:
    return next((s for s in config.sources if s.name == name), None)
