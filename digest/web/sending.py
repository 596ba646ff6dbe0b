"""The console's "Envoyer un test", "Approuver" and "Rapport" pages, under
/admin/issues/<issue>/: each action the same library call as its command.

- A test copy is `send_proof`, what `digest send --to` calls ("[TEST] " in the subject,
  recorded nowhere), once per address, to at most MAX_TEST addresses.
- Approving is `approve_issue`, what `digest approve` calls, with its guards; the page
  says beforehand, in plain words, what would refuse it (the same `schedule.held`).
- Nothing here sends the issue itself: `digest run` (cron) does, as before. While the issue
  is 'sending', whoever sends it, the pages read its progress from the outbox and reload
  themselves (<meta http-equiv=refresh>, no script), which staff can stop.
- The report is `digest report`'s: rows by address with filters, and its CSV. When rows
  were given up on (temporary refusals past the retry deadline), « Relancer les échecs » is
  `retry_failed`, what `digest retry` calls: the next `digest run` sends them.

Every POST carries the session's CSRF token and writes an audit entry; GET and HEAD
change nothing (a CSV export, personal data leaving the store, is audited on GET).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..approval import approve_issue
from ..delivery.outcome import deliveries, write_csv
from ..delivery.proof import send_proof
from ..delivery.retry import retry_failed
from ..errors import DigestError, UsageError
from ..i18n import say
from ..store import StaffSession, Store, StoredIssue
from ..subscribers import BadAddress, normalise_email
from . import staff
from .console import SESSION_KEY, Console
from .deliveries import (
    FILTER_LABELS,
    FILTERS,
    REFRESH_SECONDS,
    ApprovalView,
    approval_view,
    issue_facts,
    report_view,
    shown_filter,
)
from .security import client_ip, limit_key

MAX_TEST = 10  # addresses one test send reaches, at most
MAX_TYPED = 4000  # characters of the address field read, at most
TEST_SENT, APPROVED, APPROVE_REFUSED, REPORT_EXPORTED, RETRIED = (
    "test_sent",
    "approved",
    "approve_refused",
    "report_exported",
    "failures_retried",
)
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class TestResult:
    """What became of one test copy."""

    address: str
    sent: bool
    text: str  # the Message-ID when sent, else why not (the library's words)
    hint: str = ""


class Sending:
    """The handlers of the three pages; `routes()` is what the app registers."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.site = console.site
        self.words = console.words

    def routes(self) -> list[Route]:
        base = "/admin/issues/{issue}"
        return [
            Route(f"{base}/test", self.test_page, methods=["GET"]),
            Route(f"{base}/test", self.test_send, methods=["POST"]),
            Route(f"{base}/approve", self.approve_page, methods=["GET"]),
            Route(f"{base}/approve", self.approve, methods=["POST"]),
            Route(f"{base}/report", self.report_page, methods=["GET"]),
            Route(f"{base}/report.csv", self.report_csv, methods=["GET"]),
            Route(f"{base}/retry", self.retry, methods=["POST"]),
        ]

    # -- Envoyer un test ----------------------------------------------------------------

    async def test_page(self, request: Request) -> Response:
        stored = await self._issue(request)
        if stored is None:
            return self._missing(request)
        me = _session(request).account.email
        return self._test(request, stored, addresses=me)

    async def test_send(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        form, stored = posted
        typed = str(form.get("addresses", ""))[:MAX_TYPED]
        addresses, error = self._addresses(typed)
        if error:
            return self._test(request, stored, 400, addresses=typed, error=error)
        results = [await self._send_one(stored.id, a) for a in addresses]
        await self._audit(request, TEST_SENT, stored.id, _test_details(results))
        return self._test(request, stored, addresses=typed, results=results)

    def _addresses(self, typed: str) -> tuple[list[str], str]:
        """The addresses typed (one a line, or separated by commas), checked; else an error."""
        found = list(dict.fromkeys(a for a in _SEPARATORS.split(typed) if a))
        if not found:
            return [], say(self.words, "console.test_none")
        if len(found) > MAX_TEST:
            return [], say(self.words, "console.test_too_many", count=len(found), most=MAX_TEST)
        checked = []
        for address in found:
            try:
                checked.append(normalise_email(address))
            except BadAddress:
                return [], say(self.words, "console.test_bad", address=address)
        return list(dict.fromkeys(checked)), ""

    async def _send_one(self, issue_id: str, address: str) -> TestResult:
        site = self.site

        def send(db: Store) -> str:
            return send_proof(
                site.config, db, issue_id, address, site.clock, smtp=site.smtp, keys=site.keys
            )

        try:
            message_id = await site.store.read(send)
        except DigestError as exc:
            return TestResult(address, False, exc.message, exc.hint or "")
        except OSError as exc:  # the connection broke mid-message
            return TestResult(address, False, say(self.words, "console.test_lost", error=exc))
        return TestResult(address, True, message_id)

    def _test(
        self, request: Request, stored: StoredIssue, status: int = 200, **values: Any
    ) -> Response:
        facts = issue_facts(self.site.config, stored, self.words)
        values = {"results": (), **values}
        response = self.console.signed_in(
            request, "test.html", facts=facts, most=MAX_TEST, **values
        )
        response.status_code = status
        return response

    async def _posted(self, request: Request) -> tuple[FormData, StoredIssue] | Response:
        """A console POST's form and the issue it is about; else the answer to give: its
        CSRF token is missing or stale, or no such issue."""
        form = await self.console.posted(request)
        stored = await self._issue(request)
        if form is None:
            return self.console.stale(request)
        if stored is None:
            return self._missing(request)
        return form, stored

    # -- Approuver ----------------------------------------------------------------------

    async def approve_page(self, request: Request) -> Response:
        stored = await self._issue(request)
        if stored is None:
            return self._missing(request)
        done = say(self.words, "console.approved") if "done" in request.query_params else ""
        return await self._approval(request, stored, notice=done)

    async def approve(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        stored = posted[1]
        site, now = self.site, self.site.clock()
        try:
            approval = await site.store.write(
                lambda db: approve_issue(site.config, db, stored.id, now)
            )
        except UsageError as exc:
            await self._audit(request, APPROVE_REFUSED, stored.id, {"reason": exc.message})
            return await self._approval(request, stored, 409, error=exc.message)
        details = {"message": approval.message, "warnings": list(approval.warnings)}
        await self._audit(request, APPROVED, stored.id, details)
        return RedirectResponse(request.url.path + "?done=1", 303)

    async def _approval(
        self, request: Request, stored: StoredIssue, status: int = 200, **values: Any
    ) -> Response:
        site, now = self.site, self.site.clock()

        def look(db: Store) -> ApprovalView:
            fresh = db.issue(stored.id) or stored  # as it is now, after an approval
            return approval_view(site.config, db, fresh, self.words, now)

        view = await site.store.read(look)
        response = self.console.signed_in(
            request, "approve.html", view=view, facts=view.facts, **_live(request), **values
        )
        response.status_code = status
        return response

    # -- Rapport ------------------------------------------------------------------------

    async def report_page(self, request: Request) -> Response:
        stored = await self._issue(request)
        if stored is None:
            return self._missing(request)
        retried = request.query_params.get("retried", "")
        notice = ""
        if retried == "0":  # a second click, or another staff member was first
            notice = say(self.words, "console.retry_nothing")
        elif retried.isdigit() and len(retried) < 10:
            notice = say(self.words, "console.retried", count=int(retried))
        return await self._report(request, stored, notice=notice)

    async def retry(self, request: Request) -> Response:
        """« Relancer les échecs »: `digest retry`'s call; the report then says how many."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        stored = posted[1]
        now = self.site.clock()
        try:
            retried = await self.site.store.write(lambda db: retry_failed(db, stored.id, now))
        except UsageError as exc:
            return await self._report(request, stored, 409, error=exc.message)
        await self._audit(request, RETRIED, stored.id, {"count": retried.reopened})
        report = request.url.path.removesuffix("/retry") + "/report"
        return RedirectResponse(f"{report}?retried={retried.reopened}", 303)

    async def _report(
        self, request: Request, stored: StoredIssue, status: int = 200, **values: Any
    ) -> Response:
        shown = shown_filter(request.query_params.get("shown", ""))
        page = _number(request.query_params.get("page", "1"))
        site, now = self.site, self.site.clock()

        view = await site.store.read(
            lambda db: report_view(site.config, db, stored, self.words, shown, page, now)
        )
        filters = [(key, say(self.words, FILTER_LABELS[key])) for key in ("", *FILTERS)]
        response = self.console.signed_in(
            request, "report.html", view=view, facts=view.facts, filters=filters,
            **_live(request), **values,
        )  # fmt: skip
        response.status_code = status
        return response

    async def report_csv(self, request: Request) -> Response:
        stored = await self._issue(request)
        if stored is None:
            return self._missing(request)
        shown = shown_filter(request.query_params.get("shown", ""))

        def export(db: Store) -> str:
            out = io.StringIO()
            write_csv(out, deliveries(db, stored.id, shown or None))
            return out.getvalue()

        text = await self.site.store.read(export)
        if request.method == "GET":  # a HEAD sends no address anywhere
            await self._audit(request, REPORT_EXPORTED, stored.id, {"shown": shown or "all"})
        name = f"digest-{stored.id}-{shown or 'all'}.csv"
        headers = {
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        }
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

    # -- shared -------------------------------------------------------------------------

    async def _issue(self, request: Request) -> StoredIssue | None:
        issue_id = str(request.path_params["issue"])
        return await self.site.store.read(lambda db: db.issue(issue_id))

    def _missing(self, request: Request) -> Response:
        issue = str(request.path_params["issue"])
        response = self.console.signed_in(request, "missing.html", issue=issue)
        response.status_code = 404
        return response

    async def _audit(
        self, request: Request, action: str, issue: str, details: dict[str, Any]
    ) -> None:
        who, now = _session(request).account.email, self.site.clock()
        ip = limit_key(client_ip(request))
        await self.site.store.write(
            lambda db: staff.audit(db, who, action, details, now=now, issue=issue, ip=ip)
        )


def _session(request: Request) -> StaffSession:
    session: StaffSession = request.scope[SESSION_KEY]
    return session


def _test_details(results: list[TestResult]) -> dict[str, Any]:
    return {
        "sent": [r.address for r in results if r.sent],
        "refused": {r.address: r.text for r in results if not r.sent},
    }


def _live(request: Request) -> dict[str, Any]:
    """Whether a page about a send in progress reloads itself: yes, unless staff stopped it
    (?still=1: WCAG 2.2.1 asks that a time limit can be turned off)."""
    return {"still": "still" in request.query_params, "refresh": REFRESH_SECONDS}


def _number(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 7 else 1
