"""The ASGI app of `digest serve`: routes, lifespan (the store) and error pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from ..config import Config
from ..delivery.smtp import SmtpSettings
from ..i18n import say
from ..tokens import Keys
from .archive import Archive
from .console import Console, ConsoleGuard
from .health import SourcePages
from .issue_page import IssuePage
from .pages import Pages
from .people import IMPORT_PATH, MAX_IMPORT_BYTES, SubscriberPages
from .preferences import PreferencePage
from .security import BodyLimit, SecurityHeaders
from .sending import Sending
from .site import Site
from .storage import RETRY_AFTER, StoreBusy

log = logging.getLogger("digest.web")


def create_app(
    config: Config,
    *,
    keys: Keys,
    smtp: SmtpSettings,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The site for `config`. The clock defaults to the real UTC time (tests pass their own)."""
    site = Site(config, keys, smtp, clock or _utc_now)
    pages, archive, console = Pages(site), Archive(site), Console(site)
    preferences = PreferencePage(site)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await site.store.open()
        site.mailer.start()
        try:
            yield
        finally:
            site.mailer.stop()
            site.store.close()

    async def css(request: Request) -> Response:
        return Response(
            site.css,
            media_type="text/css; charset=utf-8",
            headers={"cache-control": "public, max-age=3600"},
        )

    async def admin_css(request: Request) -> Response:
        return Response(
            site.admin_css,
            media_type="text/css; charset=utf-8",
            headers={"cache-control": "public, max-age=3600"},
        )

    async def progress_js(request: Request) -> Response:
        return Response(
            site.progress_js,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "public, max-age=3600"},
        )

    async def error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        response = site.message(request, "not_found" if status == 404 else "error", status)
        # Keep what the exception says in headers: a 405 must name the methods (`Allow`).
        headers = exc.headers if isinstance(exc, HTTPException) else None
        response.headers.update(headers or {})
        return response

    async def busy(request: Request, exc: Exception) -> Response:
        # Another process held the write lock too long: nothing was done, say when to retry.
        log.warning("store busy, %s %s answered 503: %s", request.method, _handler(request), exc)
        response = site.message(request, "busy", 503)
        response.headers["retry-after"] = str(RETRY_AFTER)
        return response

    async def gone(request: Request, exc: Exception) -> Response:
        # The client left while its form was read: no one to answer, nothing went wrong here.
        return Response(status_code=400)

    routes = [
        Route("/", pages.home, methods=["GET"]),
        Route("/subscribe", pages.subscribe, methods=["POST"]),
        Route("/embed", pages.embed, methods=["GET"]),
        Route("/confirm/{token}", pages.confirm, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["GET", "POST"]),
        Route("/preferences/{token}", preferences.handle, methods=["GET", "POST"]),
        Route("/archives/", archive.index, methods=["GET"]),
        Route("/archives/feed.xml", archive.feed, methods=["GET"]),
        Route("/archives/{issue}/", archive.issue, methods=["GET"]),
        Route("/static/site.css", css, methods=["GET"]),
        Route("/static/admin.css", admin_css, methods=["GET"]),
        Route("/static/progress.js", progress_js, methods=["GET"]),
        # The console: ConsoleGuard lets only /admin/login through without a session.
        Route("/admin/", console.dashboard, methods=["GET"]),
        Route("/admin/login", console.login_page, methods=["GET"]),
        Route("/admin/login", console.login, methods=["POST"]),
        Route("/admin/logout", console.logout, methods=["POST"]),
        *Sending(console).routes(),  # test send, approval, report (digest/web/sending.py)
        *SubscriberPages(console).routes(),
        *SourcePages(console).routes(),
        *IssuePage(console).routes(),
    ]
    # A CSV to import may be larger than a form: only there, and read only once the
    # guard has found a session (the guard refuses without reading the body).
    wider = {IMPORT_PATH: MAX_IMPORT_BYTES + 64 * 1024}
    return _Secured(
        routes=routes,
        middleware=[
            Middleware(BodyLimit, text=say(site.words, "site.too_large"), wider=wider),
            Middleware(ConsoleGuard, console=console),
        ],
        # `Exception` goes to ServerErrorMiddleware: the 500 page is the site's own.
        exception_handlers={
            HTTPException: error,
            StoreBusy: busy,
            ClientDisconnect: gone,
            Exception: error,
        },
        lifespan=lifespan,
    )


class _Secured(Starlette):
    """Starlette with SecurityHeaders outside its whole stack.

    Why: Starlette puts its ServerErrorMiddleware outside every middleware given to it, so a
    500 page written there would miss headers added by a middleware in the list."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def _handler(request: Request) -> str:
    """The name of the handler that answered ('confirm'), for the log: never the path,
    which carries the visitor's token."""
    return str(getattr(request.scope.get("endpoint"), "__name__", "?"))


def _utc_now() -> datetime:
    return datetime.now(UTC)
