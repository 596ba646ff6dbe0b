"""The console's issue page ("L'issue"): the email in a sandboxed frame (600 px, 375 px or
the text part), the items by section with what staff may do to each, the edito, subject and
preheader, "Ajouter un lien", "Reconstruire", and the issue's history.

Every edit is a library call (digest.editing) that writes the issue's overrides file, then
the issue is rebuilt from stored data as `digest build --offline` does (the feeds' cached
copies: an edit never waits for partners' servers); "Reconstruire" fetches the feeds again,
in a background thread whose progress a page shows, updated in place by progress.js. The
preview route is the only console URL a page may frame, and only the console itself, with
a CSP under which nothing runs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..editing import overrides_file as files
from ..editing.links import Link, checked_url, page_summary, write_link_recap
from ..errors import DigestError, FetchError, UsageError
from ..i18n import N_, say
from ..models import SourceResult
from ..overrides import Overrides
from ..period import week_period
from ..pipeline import Stored, build_and_store, fetch_settings, write_issue
from ..store import REBUILDABLE, StaffSession, Store
from . import staff
from .console import SESSION_KEY, Console
from .issue_view import HISTORY, issue_view
from .security import CSP, client_ip, limit_key

ISSUE_ID = re.compile(r"\d{4}-W\d{2}")
# The issue page frames its own preview, nothing else.
ISSUE_CSP = CSP + "; frame-src 'self'"
# The stored email: its inline styles and remote images, and nothing that runs, submits or
# navigates; framed by the console only.
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:;"
    " font-src https: data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self';"
    " sandbox"
)
VIEWS = {
    "600": N_("issuepage.view_600"),
    "375": N_("issuepage.view_375"),
    "text": N_("issuepage.view_text"),
}
# What a finished edit says (the query string names one of these, never free text).
NOTICES = {
    "pin": N_("issuepage.done_pin"),
    "release": N_("issuepage.done_release"),
    "exclude": N_("issuepage.done_exclude"),
    "move": N_("issuepage.done_move"),
    "up": N_("issuepage.done_order"),
    "down": N_("issuepage.done_order"),
    "texts": N_("issuepage.done_texts"),
    "link": N_("issuepage.done_link"),
}


@dataclass
class Job:
    """A "Reconstruire" running in a background thread (or finished): what the progress
    page shows. Kept in memory: a restart forgets it, the store keeps its result."""

    issue_id: str
    total: int
    done: int = 0
    finished: bool = False
    error: str = ""
    withdrawn: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)


class IssuePage:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.site = console.site
        self.config = console.site.config
        self.words = console.words
        self.jobs: dict[str, Job] = {}
        self._jobs_lock = threading.Lock()

    def routes(self) -> list[Route]:
        base = "/admin/issues/{issue_id}"
        return [
            Route(base, self.show, methods=["GET"]),
            Route(base + "/preview", self.preview, methods=["GET"]),
            Route(base + "/items", self.item, methods=["POST"]),
            Route(base + "/texts", self.texts, methods=["POST"]),
            Route(base + "/links", self.link, methods=["POST"]),
            Route(base + "/rebuild", self.rebuild, methods=["POST"]),
            Route(base + "/rebuild", self.progress, methods=["GET"]),
        ]

    # -- reading --------------------------------------------------------------------------

    def _issue_id(self, request: Request) -> str:
        issue_id = str(request.path_params["issue_id"])
        if not ISSUE_ID.fullmatch(issue_id):
            raise HTTPException(404)
        return issue_id

    async def show(self, request: Request) -> Response:
        issue_id = self._issue_id(request)
        query = request.query_params
        notice = say(self.words, NOTICES[query["done"]]) if query.get("done") in NOTICES else ""
        return await self._render(request, issue_id, notice=notice, withdrawn="withdrawn" in query)

    async def _render(
        self, request: Request, issue_id: str, status: int = 200, /, **values: Any
    ) -> Response:
        """The page, with `values` (typed input, messages) over what the file holds."""
        loaded = await self.site.store.read(lambda db: self._load(db, issue_id))
        if loaded is None:
            raise HTTPException(404)
        shown = request.query_params.get("view", "600")
        response = self.console.signed_in(
            request,
            "issue.html",
            **loaded,
            **_form_values(loaded["file"], values),
            shown=shown if shown in VIEWS else "600",
            views=[(v, say(self.words, key)) for v, key in VIEWS.items()],
            running=self._running(issue_id),
        )
        response.status_code = status
        response.headers["content-security-policy"] = ISSUE_CSP
        return response

    def _load(self, db: Store, issue_id: str) -> dict[str, Any] | None:
        """The stored issue's view and its overrides file (a file build refuses is shown
        with its problems, and nothing on the page edits it)."""
        stored = db.issue(issue_id)
        if stored is None:
            return None
        try:
            current, file_error = files.open_overrides(self.config, issue_id), ""
        except DigestError as exc:
            current, file_error = files.OverridesFile(issue_id, self.config.folder, ""), _said(exc)
        entries = db.audit_entries(HISTORY, issue_id=issue_id)
        view = issue_view(stored, current, self.config, self.words, entries)
        return {"view": view, "file": current, "file_error": file_error}

    async def preview(self, request: Request) -> Response:
        """The stored email (or its text part) as `digest send` sends it, for the frame."""
        issue_id = self._issue_id(request)
        stored = await self.site.store.read(lambda db: db.issue(issue_id))
        if stored is None:
            raise HTTPException(404)
        text = request.query_params.get("part") == "text"
        headers = {
            "content-security-policy": PREVIEW_CSP,
            "x-frame-options": "SAMEORIGIN",
            "cache-control": "no-store",
            "x-robots-tag": "noindex, nofollow",
        }
        kind = "text/plain; charset=utf-8" if text else "text/html; charset=utf-8"
        return Response(stored.text if text else stored.html, media_type=kind, headers=headers)

    # -- edits --------------------------------------------------------------------------

    async def item(self, request: Request) -> Response:
        issue_id = self._issue_id(request)
        form = await self.console.posted(request)
        if form is None:
            return self._stale(request)
        action, name = str(form.get("action", "")), str(form.get("ref", "")).strip()
        target = str(form.get("target", ""))
        change = self._change(action, name, target)
        if change is None or not name:
            raise HTTPException(400)
        details = {"item": name, **({"section": target} if action == "move" else {})}
        return await self._apply(request, issue_id, action, form, change, None, details)

    def _change(self, action: str, name: str, target: str) -> files.Edit | None:
        config = self.config
        changes: dict[str, files.Edit] = {
            "pin": lambda v: files.pin(v, name),
            "exclude": lambda v: files.exclude(v, name),
            "release": lambda v: files.release(v, name),
            "move": lambda v: files.move(v, name, target, config),
            "up": lambda v: files.shift(v, name, -1),
            "down": lambda v: files.shift(v, name, +1),
        }
        return changes.get(action)

    async def texts(self, request: Request) -> Response:
        issue_id = self._issue_id(request)
        form = await self.console.posted(request)
        if form is None:
            return self._stale(request)
        typed = {k: str(form.get(k, "")) for k in ("subject", "preheader", "edito")}
        typed["edito"] = typed["edito"].replace("\r\n", "\n")
        if form.get("action") == "preview":
            return await self._render(
                request, issue_id, fingerprint=str(form.get("fingerprint", "")), **typed
            )

        def change(values: files.Values) -> files.Values:
            return files.texts(values, typed["subject"], typed["preheader"])

        details = {"subject": typed["subject"], "preheader": typed["preheader"]}
        return await self._apply(request, issue_id, "texts", form, change, typed, details)

    async def _apply(
        self,
        request: Request,
        issue_id: str,
        action: str,
        form: FormData,
        change: files.Edit,
        typed: dict[str, str] | None,
        details: dict[str, Any],
    ) -> Response:
        """Write the overrides file, rebuild, write the audit entry, show the result."""
        expected = str(form.get("fingerprint", ""))
        edito = typed["edito"] if typed else None
        kept = typed or {}
        try:
            stored = await anyio.to_thread.run_sync(
                self._edit_and_build, issue_id, change, expected, edito
            )
        except files.EditConflict as exc:
            return await self._render(
                request, issue_id, 409, error=_said(exc), conflict=True, **kept
            )
        except DigestError as exc:
            return await self._render(request, issue_id, 400, error=_said(exc), **kept)
        withdrawn = isinstance(stored, Stored) and stored.withdrawn
        await self._audit(request, f"issue_{action}", issue_id, {**details, "withdrawn": withdrawn})
        if isinstance(stored, str):  # saved, but the rebuild failed: say why
            error = say(self.words, "issuepage.rebuild_failed_after_edit", error=stored)
            return await self._render(request, issue_id, 200, error=error)
        done = "release" if action == "release" else action
        target = f"/admin/issues/{issue_id}?done={done}" + ("&withdrawn=1" if withdrawn else "")
        return RedirectResponse(target + "#done", 303)

    def _edit_and_build(
        self, issue_id: str, change: files.Edit, expected: str, edito: str | None
    ) -> Stored | str:
        """In a worker thread: the edit, then the offline rebuild (its error as text: the
        edit is saved either way)."""
        config = self.config
        with Store(config.store) as store:
            _editable(store, issue_id, self.words.language)
            files.edit(config, issue_id, change, expected, edito)
            try:
                return self._build(store, issue_id, offline=True)
            except DigestError as exc:
                return _said(exc)

    def _build(self, store: Store, issue_id: str, offline: bool, on_source: Any = None) -> Stored:
        """As `digest build --week ISSUE [--offline]`: stored, and written to out/ISSUE/."""
        config = self.config
        period = week_period(issue_id, config.newsletter.tz)
        now = self.site.clock()
        stored = build_and_store(config, period, now, store, offline=offline, on_source=on_source)
        write_issue(stored.build, config.folder / "out" / issue_id)
        return stored

    async def link(self, request: Request) -> Response:
        issue_id = self._issue_id(request)
        form = await self.console.posted(request)
        if form is None:
            return self._stale(request)
        typed = {k: str(form.get(k, "")).strip() for k in ("url", "title", "summary", "theme")}
        kept = {f"link_{k}": v for k, v in typed.items()}
        try:
            link = await self._completed(Link(**typed))
            path, stored = await anyio.to_thread.run_sync(self._add_link, issue_id, link)
        except FetchError as exc:
            error = say(self.words, "issuepage.fetch_failed", error=_said(exc))
            return await self._render(request, issue_id, 200, link_error=error, **kept)
        except DigestError as exc:
            return await self._render(request, issue_id, 400, link_error=_said(exc), **kept)
        withdrawn = isinstance(stored, Stored) and stored.withdrawn
        details = {"url": link.url, "file": path, "withdrawn": withdrawn}
        await self._audit(request, "issue_link", issue_id, details)
        if isinstance(stored, str):
            error = say(self.words, "issuepage.rebuild_failed_after_edit", error=stored)
            return await self._render(request, issue_id, 200, error=error)
        target = f"/admin/issues/{issue_id}?done=link" + ("&withdrawn=1" if withdrawn else "")
        return RedirectResponse(target + "#done", 303)

    async def _completed(self, link: Link) -> Link:
        """The link with the page's own title and description where staff typed none."""
        url = checked_url(link.url)
        if link.title and link.summary:
            return Link(url, link.title, link.summary, link.theme)
        try:
            found = await page_summary(url, fetch_settings(self.config))
        except FetchError:
            if not link.title:
                raise
            return Link(url, link.title, link.summary, link.theme)
        title, summary = link.title or found.title, link.summary or found.description
        if not title:
            raise FetchError(say(self.words, "issuepage.no_title_found"))
        return Link(url, title, summary, link.theme)

    def _add_link(self, issue_id: str, link: Link) -> tuple[str, Stored | str]:
        config = self.config
        with Store(config.store) as store:
            _editable(store, issue_id, self.words.language)
            period = week_period(issue_id, config.newsletter.tz)
            path = write_link_recap(config, link, period, self.site.clock())
            try:
                return path.name, self._build(store, issue_id, offline=True)
            except DigestError as exc:
                return path.name, _said(exc)

    # -- Reconstruire -------------------------------------------------------------------

    def _running(self, issue_id: str) -> bool:
        job = self.jobs.get(issue_id)
        return job is not None and not job.finished

    async def rebuild(self, request: Request) -> Response:
        issue_id = self._issue_id(request)
        form = await self.console.posted(request)
        if form is None:
            return self._stale(request)
        stored = await self.site.store.read(lambda db: db.issue(issue_id))
        if stored is None:
            raise HTTPException(404)
        if stored.status not in REBUILDABLE:
            error = say(self.words, "issuepage.not_editable", status=stored.status)
            return await self._render(request, issue_id, 409, error=error)
        session: StaffSession = request.scope[SESSION_KEY]
        with self._jobs_lock:
            job = None if self._running(issue_id) else Job(issue_id, self._feeds())
            if job is not None:
                self.jobs[issue_id] = job
        if job is not None:  # written first: the history reads in the order things happened
            await self._audit(request, "issue_rebuild", issue_id, {})
            actor = session.account.email
            threading.Thread(target=self._run_job, args=(job, actor), daemon=True).start()
        return RedirectResponse(f"/admin/issues/{issue_id}/rebuild", 303)

    def _feeds(self) -> int:
        return sum(source.enabled for source in self.config.sources)

    def _run_job(self, job: Job, actor: str) -> None:
        """The background rebuild: fresh feeds, stored, then the audit entry of its end;
        the job is marked finished whatever happens (else its page would refresh forever)."""

        def counted(result: SourceResult) -> None:
            job.done += 1

        try:
            with Store(self.config.store) as store:
                action, details = self._rebuilt(store, job, counted)
                staff.audit(
                    store, actor, action, details, now=self.site.clock(), issue=job.issue_id
                )
        except DigestError as exc:  # the store itself failed: said on the progress page
            job.error = job.error or _said(exc)
        except Exception as exc:
            job.error = say(self.words, "issuepage.rebuild_crashed", error=type(exc).__name__)
            raise
        finally:
            job.finished = True

    def _rebuilt(
        self, store: Store, job: Job, counted: Callable[[SourceResult], None]
    ) -> tuple[str, dict[str, Any]]:
        """Rebuild with fresh feeds; (audit action, details) of how it went."""
        try:
            stored = self._build(store, job.issue_id, offline=False, on_source=counted)
        except DigestError as exc:
            job.error = _said(exc)
            return "issue_rebuild_failed", {"error": job.error}
        job.withdrawn, job.warnings = stored.withdrawn, stored.build.warnings
        return "issue_rebuilt", {"withdrawn": stored.withdrawn}

    async def progress(self, request: Request) -> Response:
        issue_id = self._issue_id(request)
        job = self.jobs.get(issue_id)
        if job is None:
            return RedirectResponse(f"/admin/issues/{issue_id}", 303)
        response = self.console.signed_in(request, "rebuild.html", job=job)
        return response

    # -- shared ---------------------------------------------------------------------------

    async def _audit(
        self, request: Request, action: str, issue_id: str, details: dict[str, Any]
    ) -> None:
        session: StaffSession = request.scope[SESSION_KEY]
        now, ip = self.site.clock(), limit_key(client_ip(request))
        actor = session.account.email
        await self.site.store.write(
            lambda db: staff.audit(db, actor, action, details, now=now, issue=issue_id, ip=ip)
        )

    def _stale(self, request: Request) -> Response:
        heading = say(self.words, "console.stale_title")
        text = say(self.words, "console.stale_form")
        return self.console.page(request, "message.html", 403, heading=heading, text=text)


_FORM_DEFAULTS: dict[str, Any] = {
    "notice": "",
    "error": "",
    "link_error": "",
    "link_url": "",
    "link_title": "",
    "link_summary": "",
    "link_theme": "",
    "withdrawn": False,
    "conflict": False,
}


def _form_values(file: files.OverridesFile, values: dict[str, Any]) -> dict[str, Any]:
    """What the forms show: what was typed, else what the overrides file holds."""
    shown = {
        **_FORM_DEFAULTS,
        "fingerprint": file.fingerprint,
        "subject": str(file.values.get("subject") or ""),
        "preheader": str(file.values.get("preheader") or ""),
        "edito": file.edito,
        **values,
    }
    shown["edito_html"] = Overrides(edito_markdown=str(shown["edito"])).edito_html
    return shown


def _editable(store: Store, issue_id: str, language: str) -> None:
    """An issue that went out (or is going out) is not changed any more."""
    stored = store.issue(issue_id)
    if stored is None:
        raise HTTPException(404)
    if stored.status not in REBUILDABLE:
        raise UsageError(say(language, "issuepage.not_editable", status=stored.status))


def _said(exc: DigestError) -> str:
    """An error as one line for the page: its message, then its hint."""
    return f"{exc.message} {exc.hint}".strip() if exc.hint else exc.message
