"""The archives: the list of published issues, each issue's web page, and an Atom feed.

Only published issues are shown (status 'sending' or 'sent': once an issue has started going
out, its readers may click "view in browser"), as the `web` HTML that `digest build` stored: the
web version has no per-subscriber link, so nothing personal is published. `?cut=` shows
one cut of it (the sections some readers chose), as their "view in browser" link asks.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..store import PUBLISHED
from .security import ARCHIVE_CSP
from .site import Site

ISSUE_ID = re.compile(r"[0-9]{4}-W[0-9]{2}")
PUBLIC = "public, max-age=300"
CUT = re.compile(r"\+|[a-z0-9_-]+(?: [a-z0-9_-]+)*")  # render/cuts.py's keys, the whole one aside


class Archive:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def index(self, request: Request) -> Response:
        sent = await self.site.store.read(lambda db: db.archived_issues())
        issues = [self.site.listed(i) for i in sent]
        response = self.site.page(request, "archives.html", issues=issues)
        response.headers["cache-control"] = PUBLIC
        return response

    async def issue(self, request: Request) -> Response:
        issue_id = request.path_params["issue"]
        found = None
        if ISSUE_ID.fullmatch(issue_id):
            found = await self.site.store.read(lambda db: db.issue(issue_id))
        if found is None or found.status not in PUBLISHED:
            return self.site.message(request, "not_found", 404)
        headers = {"content-security-policy": ARCHIVE_CSP, "cache-control": PUBLIC}
        return HTMLResponse(await self._cut_page(request, found.web), headers=headers)

    async def _cut_page(self, request: Request, whole: str) -> str:
        """The page of the cut `?cut=` names (a reader's "view in browser": the sections they
        got, delivery/message.view_url); without one, or an unknown one, the whole issue."""
        cut = request.query_params.get("cut", "").replace(",", " ")
        if not CUT.fullmatch(cut):
            return whole
        issue_id = request.path_params["issue"]
        page = await self.site.store.read(lambda db: db.issue_cut_web(issue_id, cut))
        return page or whole

    async def feed(self, request: Request) -> Response:
        site = self.site
        issues = await site.store.read(lambda db: db.archived_issues(limit=50))
        entries = [site.listed(i) for i in issues]
        # An empty feed is as new as the site: Atom requires a date, and 1970 looks broken.
        updated = entries[0]["updated"] if entries else site.clock().isoformat()
        xml = site.env.get_template("site/feed.xml").render(
            lang=site.lang,
            newsletter=site.config.newsletter,
            issues=entries,
            updated=updated,
            base=site.config.newsletter.base_url.rstrip("/"),
        )
        return Response(
            xml,
            media_type="application/atom+xml; charset=utf-8",
            headers={"cache-control": PUBLIC},
        )
