"""The page handlers: home and subscribe, confirm, unsubscribe (with RFC 8058 one-click).

State changes only on POST: a GET or HEAD of a confirm or unsubscribe link shows a page
with a button, so mail scanners that prefetch links change nothing. Every answer to a valid
subscription is the same page, whether the address is new, pending or already confirmed,
and costs the same work.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from ..i18n import N_, say
from ..subscribers import (
    BadAddress,
    confirm,
    form_themes,
    mask_address,
    normalise_email,
    request_subscription,
    unsubscribe,
)
from ..tokens import CONFIRM, UNSUBSCRIBE, BadToken, ExpiredToken, read_token
from .security import client_ip, limit_key
from .site import Site

log = logging.getLogger("digest.web")
MAX_FORM_FIELDS = 10


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def home(
        self,
        request: Request,
        error: str = "",
        status: int = 200,
        email: str = "",
        chosen: tuple[str, ...] = (),
    ) -> Response:
        """The home page; after a refused address, again with the error and what was typed
        and ticked."""
        site = self.site
        latest = await site.store.read(lambda db: db.archived_issues(limit=1))
        shown = site.listed(latest[0]) if latest else None
        return site.page(
            request, "home.html", status, error=error, latest=shown, email=email, chosen=chosen
        )

    async def embed(self, request: Request) -> Response:
        """The form to copy onto another site, shown working and as HTML to copy."""
        site = self.site
        snippet = site.env.get_template("site/snippet.html").render(
            _=site.words,
            action=site.config.newsletter.base_url.rstrip("/") + "/subscribe",
            offered_themes=site.config.themes,
        )
        return site.page(request, "embed.html", snippet=snippet.strip())

    async def subscribe(self, request: Request) -> Response:
        """The form's POST, from this site or from a form copied onto another (DESIGN §3):
        no cookie and no token, so any site may send it; double opt-in is what protects an
        address, the honeypot and the rate limits what protect the mail server."""
        site = self.site
        form = await read_form(request, len(site.config.themes))
        ip = client_ip(request)
        if not site.per_ip.hit(limit_key(ip)):
            return limited(site.message(request, "rate", 429), site.config.site.window)
        if str(form.get("website", "")).strip():
            log.info("honeypot filled from %s: nothing done", ip)
            return site.message(request, "check")  # the same answer: a bot learns nothing
        typed = str(form.get("email", ""))
        known = [theme.id for theme in site.config.themes]
        themes = form_themes((str(v) for v in form.getlist("themes")), known)
        try:
            address = normalise_email(typed)
        except BadAddress:
            shown = typed[:254].replace("\r", " ").replace("\n", " ")
            error = say(site.words, "site.bad_email")
            return await self.home(request, error, 400, shown, themes)
        if not site.per_address.hit(address):
            return limited(site.message(request, "rate", 429), site.config.site.window)
        now = site.clock()
        # The confirmation email is owed in the store, not queued in memory: an email the
        # mail server cannot take yet (or a restart) is sent later. The same work whatever
        # the address's state (see request_subscription), so the timing tells no one
        # whether it is subscribed.
        await site.store.write(
            lambda db: request_subscription(
                db, address, language=site.lang, now=now, source="web", ip=ip, themes=themes
            )
        )
        answer = site.message(request, "check")
        # The mailer looks once the answer is sent, and for every address: its work (an
        # email to build and send, or nothing) never runs while this answer is being made.
        answer.background = BackgroundTask(self._wake_mailer)
        return answer

    async def _wake_mailer(self) -> None:
        self.site.mailer.wake()

    async def confirm(self, request: Request) -> Response:
        """GET and HEAD show the page; only a POST confirms."""
        subscriber_id, problem = self._read(request, CONFIRM)
        if not changes_state(request):
            return problem or await self._confirm_page(request, subscriber_id)
        await read_form(request)  # read within the size limits; the token is the proof
        if problem is not None:
            return problem
        now, ip = self.site.clock(), client_ip(request)
        outcome = await self.site.store.write(
            lambda db: confirm(db, subscriber_id, now=now, source="web", ip=ip)
        )
        if outcome == "gone":
            return self.site.message(request, "expired", 410)
        return self.site.message(request, "confirmed" if outcome == "confirmed" else "already")

    async def _confirm_page(self, request: Request, subscriber_id: int) -> Response:
        """The GET: a button for a pending subscriber, a plain message otherwise."""
        current = await self.site.store.read(lambda db: db.subscriber(subscriber_id))
        if current is None or current.status not in ("pending", "confirmed"):
            return self.site.message(request, "expired", 410)
        if current.status == "confirmed":
            return self.site.message(request, "already")
        return self._action(request, "confirm")

    async def unsubscribe(self, request: Request) -> Response:
        """GET and HEAD show the page; only a POST (a button or RFC 8058) unsubscribes."""
        site = self.site
        form = await read_form(request) if changes_state(request) else None
        # RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click`, with no cookie.
        one_click = form is not None and form.get("List-Unsubscribe") == "One-Click"
        subscriber_id, problem = self._read(request, UNSUBSCRIBE)
        if problem is not None:
            return (
                PlainTextResponse(say(site.words, "site.invalid_text"), 400)
                if one_click
                else problem
            )
        if form is None:
            return await self._unsubscribe_page(request, subscriber_id)
        # No CSRF check on these POSTs: the signed token in the URL already proves the
        # request comes from the mailbox, and a reader whose browser blocks cookies must
        # still be able to confirm, and above all to leave.
        now, ip = site.clock(), client_ip(request)
        source = "one-click" if one_click else "web"
        await site.store.write(
            lambda db: unsubscribe(db, subscriber_id, now=now, source=source, ip=ip)
        )
        if one_click:
            return PlainTextResponse(say(site.words, "site.one_click_text"), 200)
        return site.message(request, "unsubscribed")

    async def _unsubscribe_page(self, request: Request, subscriber_id: int) -> Response:
        """The GET: a button naming the (masked) address, or, for a reader who already
        left, a page saying so with the form to come back."""
        current = await self.site.store.read(lambda db: db.subscriber(subscriber_id))
        if current is None or not current.email or current.status == "unsubscribed":
            return self.site.message(request, "already_out", subscribe_again=True)
        return self._action(request, "unsubscribe", address=mask_address(current.email))

    def _read(self, request: Request, purpose: str) -> tuple[int, Response | None]:
        """The subscriber id in the URL's token, or the 4xx page to answer instead."""
        days = self.site.config.site.confirm_days
        try:
            subscriber_id = read_token(
                self.site.keys,
                request.path_params["token"],
                purpose,
                now=self.site.clock(),
                max_age=_days(days),
            )
        except ExpiredToken:
            return 0, self.site.message(request, "expired", 410)
        except BadToken:
            return 0, self.site.message(request, "invalid", 400)
        return subscriber_id, None

    def _action(self, request: Request, name: str, **fields: str) -> HTMLResponse:
        """The page with one button that POSTs back to this same URL (its token is the proof:
        no cookie, no CSRF field); `fields` fill the text's {placeholders}."""
        site = self.site
        heading, text, button = _ACTIONS[name]
        return site.page(
            request,
            "action.html",
            heading=say(site.words, heading),
            text=say(site.words, text, **fields),
            button=say(site.words, button),
            action=request.url.path,
        )


# The pages with one button, by name: their title, text and button.
_ACTIONS = {
    "confirm": (N_("site.confirm_title"), N_("site.confirm_text"), N_("site.confirm_button")),
    "unsubscribe": (
        N_("site.unsubscribe_title"),
        N_("site.unsubscribe_text"),
        N_("site.unsubscribe_button"),
    ),
}


def changes_state(request: Request) -> bool:
    """Whether this request may change anything: only a POST. Starlette also routes HEAD to
    the handlers of GET routes, and mail scanners prefetch links with it, so a handler must
    never treat "not GET" as "POST"."""
    return request.method == "POST"


async def read_form(request: Request, checkboxes: int = 0) -> FormData:
    """The form, within its field limit: ours plus `checkboxes` (one per theme offered);
    more gets a 400 page, a body over security.MAX_BODY a 413."""
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS + checkboxes)


def limited(response: Response, window: float) -> Response:
    response.headers["retry-after"] = str(int(window))
    return response


def _days(days: int) -> timedelta:
    return timedelta(days=days)
