"""The staff console under /admin/: the guard every console URL passes, sign-in, sign-out
and the "Tableau de bord".

The guard is ASGI middleware in front of the whole router, so no console URL, present or
future, known or not, answers without a live session: a GET or HEAD is sent to the sign-in
page, anything else gets 403, never content. Every console POST carries the session's CSRF
token (the sign-in form, which has no session yet, the site's double-submit token).

The session cookie is HttpOnly, Path=/admin, Secure when base_url is https, and
SameSite=Lax rather than Strict: Lax already withholds it from every cross-site POST, frame
and subresource, and every state change here is a POST with a CSRF token; Strict would also
withhold it from a plain link followed from a webmail (the review link staff get), which
would land signed-in staff on the sign-in page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import anyio
import anyio.to_thread
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..i18n import N_, Messages, messages, say, staff_language
from ..store import StaffSession, Store
from ..subscribers import BadAddress, normalise_email
from . import staff
from .dashboard import dashboard
from .security import CONSOLE_CSP, Csrf, client_ip, limit_key, session_csrf, session_csrf_ok
from .site import Site, site_words
from .storage import RETRY_AFTER, StoreBusy

log = logging.getLogger("digest.web")
PREFIX = "/admin"
LOGIN = "/admin/login"
OPEN = frozenset({LOGIN})  # the only console URL a visitor without a session may see
HOME = "/admin/"
SESSION_KEY = "digest.staff"  # where the guard leaves the session in the ASGI scope
MAX_FORM_FIELDS = 20
HASHING = 2  # argon2 checks at once: each takes 64 MiB for a moment


# What a console page may show without every handler passing it.
_PAGE_DEFAULTS: dict[str, Any] = {
    "staff": None,
    "csrf": "",
    "error": "",
    "notice": "",
    "email": "",
    "next": "",
    "current": "",
}


class Console:
    """The console's handlers and the policy they share."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.settings = site.config.console
        language = staff_language(site.config)
        self.words: Messages = site_words(messages(language, site.config.templates))
        secure = site.config.newsletter.base_url.lower().startswith("https://")
        self.secure = secure
        self.cookie = "__Secure-digest-staff" if secure else "digest-staff"
        self.login_csrf = Csrf(site.keys, secure)
        self._hashing: anyio.CapacityLimiter | None = None

    # -- pages --------------------------------------------------------------------------

    def page(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        site = self.site
        html = site.env.get_template(f"admin/{template}").render(
            _=self.words,
            lang=self.words.language,
            newsletter=site.config.newsletter,
            root=request.scope.get("root_path", "").rstrip("/"),
            **{**_PAGE_DEFAULTS, **values},
        )
        headers = {
            "cache-control": "no-store",
            "content-security-policy": CONSOLE_CSP,
            "x-robots-tag": "noindex, nofollow",
        }
        return HTMLResponse(html, status, headers=headers)

    def signed_in(self, request: Request, template: str, **values: Any) -> HTMLResponse:
        """A page for the signed-in staff member: their name and the sign-out form's token."""
        session: StaffSession = request.scope[SESSION_KEY]
        csrf = session_csrf(self.site.keys, session.token_hash)
        return self.page(request, template, staff=session.account, csrf=csrf, **values)

    async def dashboard(self, request: Request) -> Response:
        site, now = self.site, self.site.clock()
        board = await site.store.read(lambda db: dashboard(db, site.config, self.words, now))
        return self.signed_in(request, "dashboard.html", board=board)

    def session(self, request: Request) -> StaffSession:
        """The signed-in session the guard found for this request."""
        session: StaffSession = request.scope[SESSION_KEY]
        return session

    def stale(self, request: Request) -> Response:
        """403: the form's CSRF token is not this session's; nothing was done."""
        return self._stale(request)

    def who(self, request: Request) -> str:
        """Who the audit log names for this request: the staff member's address."""
        return self.session(request).account.email

    # -- the guard's questions ----------------------------------------------------------

    async def session_of(self, request: Request) -> StaffSession | None:
        token = request.cookies.get(self.cookie, "")
        if not token:
            return None
        now, settings = self.site.clock(), self.settings
        return await self.site.store.write(
            lambda db: staff.resume_session(db, token, settings, now)
        )

    def refuse(self, request: Request) -> Response:
        """The answer to a console request without a session: never the content."""
        if request.method in ("GET", "HEAD"):
            target = f"{LOGIN}?next={quote(request.url.path, safe='/')}"
            return RedirectResponse(target, status_code=303)
        return self._message(request, N_("console.expired_title"), N_("console.expired_text"), 403)

    async def posted(self, request: Request, files: int = 0) -> FormData | None:
        """The form of a console POST, or None when its CSRF token is not this session's."""
        form = await request.form(max_files=files, max_fields=MAX_FORM_FIELDS)
        session: StaffSession = request.scope[SESSION_KEY]
        submitted = str(form.get("csrf", ""))
        if not session_csrf_ok(self.site.keys, session.token_hash, submitted):
            return None
        return form

    # -- sign-in and sign-out -----------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await self.session_of(request) is not None:
            return RedirectResponse(_local(request.query_params.get("next", "")), 303)
        notice = say(self.words, "console.signed_out") if "out" in request.query_params else ""
        return self._login(request, next=request.query_params.get("next", ""), notice=notice)

    def _login(self, request: Request, status: int = 200, **values: Any) -> Response:
        token, fresh = self.login_csrf.token_for(request)
        values["next"] = _local(str(values.get("next", "")))
        response = self.page(request, "login.html", status, csrf=token, **values)
        if fresh:
            self.login_csrf.set_cookie(response, token)
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        typed, password = str(form.get("email", ""))[:254], str(form.get("password", ""))
        back = {"email": typed, "next": str(form.get("next", ""))}
        if not self.login_csrf.check(request, str(form.get("csrf", ""))):
            return self._login(request, 403, error=say(self.words, "console.stale_form"), **back)
        try:
            address = normalise_email(typed)
        except BadAddress:
            return self._login(request, 400, error=say(self.words, "console.bad_email"), **back)
        if not password:
            return self._login(request, 400, error=say(self.words, "console.no_password"), **back)
        return await self._sign_in(request, address, password, back)

    async def _sign_in(
        self, request: Request, address: str, password: str, back: dict[str, str]
    ) -> Response:
        site, settings = self.site, self.settings
        ip, now = limit_key(client_ip(request)), site.clock()
        check = await site.store.write(
            lambda db: staff.sign_in_check(db, settings, address, ip, now)
        )
        if check.throttled:
            response = self._login(request, 429, error=say(self.words, "console.throttled"), **back)
            response.headers["retry-after"] = str(int(settings.failure_window))
            return response
        account = check.account
        # The same work whether the account exists or not: see staff.password_matches.
        matched = await self._verify(account.password_hash if account else None, password)
        if not matched or account is None:  # the attempt is already recorded as failed
            return self._login(request, 400, error=say(self.words, "console.refused"), **back)
        old = request.cookies.get(self.cookie, "")

        def open_session(db: Store) -> str:
            if old:
                staff.close_session(db, old)  # a new sign-in never keeps an old id
            staff.forget_stale_sessions(db, settings, now)
            if staff.needs_rehash(account.password_hash):
                db.set_password_hash(account.id, staff.rehash(password))
            staff.signed_in(db, check)
            return staff.open_session(db, account, now)

        token = await site.store.write(open_session)
        response = RedirectResponse(_local(back["next"]), 303)
        response.set_cookie(
            self.cookie, token, path=PREFIX, secure=self.secure, httponly=True, samesite="lax"
        )
        return response

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        if self._hashing is None:  # made on the loop that uses it
            self._hashing = anyio.CapacityLimiter(HASHING)
        return await anyio.to_thread.run_sync(
            staff.password_matches, password_hash, password, limiter=self._hashing
        )

    async def logout(self, request: Request) -> Response:
        if await self.posted(request) is None:
            return self._stale(request)
        session: StaffSession = request.scope[SESSION_KEY]
        now, ip = self.site.clock(), limit_key(client_ip(request))

        def close(db: Store) -> None:
            db.close_session(session.token_hash)
            staff.audit(db, session.account.email, staff.SIGNED_OUT, now=now, ip=ip)

        await self.site.store.write(close)
        response = RedirectResponse(f"{LOGIN}?out=1", 303)
        response.delete_cookie(
            self.cookie, path=PREFIX, secure=self.secure, httponly=True, samesite="lax"
        )
        return response

    def busy(self, request: Request) -> Response:
        """The store's write lock stayed held elsewhere: 503 with Retry-After."""
        response = self.site.message(request, "busy", 503)
        response.headers["retry-after"] = str(RETRY_AFTER)
        return response

    def _stale(self, request: Request) -> Response:
        return self._message(request, N_("console.stale_title"), N_("console.stale_form"), 403)

    def _message(self, request: Request, title: str, text: str, status: int) -> Response:
        heading, body = say(self.words, title), say(self.words, text)
        return self.page(request, "message.html", status, heading=heading, text=body)


def _local(target: str) -> str:
    """Where to go after signing in: a console path of this site, else the dashboard (an
    address from the query string must not send staff to another site)."""
    safe = target.startswith(HOME) and "//" not in target and "\\" not in target
    return target if safe and not target.startswith(LOGIN) else HOME


def is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class ConsoleGuard:
    """ASGI middleware: a console URL other than the sign-in page needs a live session."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_console(path) or path in OPEN:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            session = await self.console.session_of(request)
        except StoreBusy:
            # Outside Starlette's handlers, so answered here as the site does: 503, nothing
            # was done, try again shortly (never the page, and not a 500).
            await self.console.busy(request)(scope, receive, send)
            return
        if session is None:
            await self.console.refuse(request)(scope, receive, send)
            return
        scope[SESSION_KEY] = session
        await self.app(scope, receive, send)
