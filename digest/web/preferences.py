"""The preference centre: `/preferences/<token>`, a reader's own page (issue 14).

Every issue's footer links to it with a token of its own purpose (tokens.PREFERENCES),
never the unsubscribe one, valid `site.preferences_days` after the email was sent. GET and
HEAD show the page; a POST changes one thing, named by its button's `action`: `save`
(themes and name), `pause` (`weeks`: 4 or 8), `resume`, `unsubscribe`. As on the confirm
and unsubscribe pages, the signed token in the URL is the proof: no cookie and no CSRF
field, so that a reader whose browser blocks cookies can still manage their subscription
and leave; a cross-site form cannot know the token. The subscribe form's per-IP limit
counts the changes; leaving is never limited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ..i18n import say
from ..models import Subscriber
from ..render.dates import day_label
from ..store import Store
from ..subscribers import (
    PAUSE_WEEKS,
    change_preferences,
    form_themes,
    mask_address,
    pause,
    paused,
    resume,
    unsubscribe,
)
from ..tokens import PREFERENCES, BadToken, ExpiredToken, read_token
from .pages import changes_state, limited, read_form
from .security import client_ip, limit_key
from .site import Site

SOURCE = "preferences"  # the consent log's source for what this page changes
# What a change returns: the notice the page then shows (None: the reader is not confirmed).
Change = Callable[[Store], "str | None"]


@dataclass(frozen=True)
class Asker:
    """Who asks for a change, when, and from where (the consent log's IP)."""

    id: int
    now: datetime
    ip: str


class PreferencePage:
    """GET, HEAD and POST of `/preferences/{token}`."""

    def __init__(self, site: Site) -> None:
        self.site = site

    async def handle(self, request: Request) -> Response:
        themes = len(self.site.config.themes)
        form = await read_form(request, themes) if changes_state(request) else None
        subscriber_id, problem = self._read(request)
        if problem is not None:
            return problem
        if form is None:
            return await self._show(request, subscriber_id)
        return await self._post(request, subscriber_id, form)

    async def _post(self, request: Request, subscriber_id: int, form: FormData) -> Response:
        site, action = self.site, str(form.get("action", ""))
        now, ip = site.clock(), client_ip(request)
        if action == "unsubscribe":  # the unsubscribe page's own call; never rate-limited
            await site.store.write(
                lambda db: unsubscribe(db, subscriber_id, now=now, source=SOURCE, ip=ip)
            )
            return site.message(request, "unsubscribed")
        change = self._change(action, form, Asker(subscriber_id, now, ip))
        if change is None:  # a form this page did not write: shown again, unchanged
            return await self._show(request, subscriber_id, status=400)
        if not site.per_ip.hit(limit_key(ip)):
            return limited(site.message(request, "rate", 429), site.config.site.window)
        notice = await site.store.write(change)
        if notice is None:
            return site.message(request, "already_out", subscribe_again=True)
        return await self._show(request, subscriber_id, notice=notice)

    def _change(self, action: str, form: FormData, who: Asker) -> Change | None:
        """What the POST asks, as a function of the store; None if it asks nothing known."""
        if action == "save":
            return self._save(form, who)
        if action == "pause" and _weeks(form) in PAUSE_WEEKS:
            return self._pause(_weeks(form), who)
        if action == "resume":
            return self._resume(who)
        return None

    def _save(self, form: FormData, who: Asker) -> Change:
        known = [theme.id for theme in self.site.config.themes]
        themes = form_themes((str(v) for v in form.getlist("themes")), known)
        name, saved = str(form.get("name", "")), say(self.site.words, "site.pref_saved")

        def save(db: Store) -> str | None:
            done = change_preferences(
                db, who.id, themes=themes, name=name, now=who.now, source=SOURCE, ip=who.ip
            )
            return None if done is None else saved

        return save

    def _pause(self, weeks: int, who: Asker) -> Change:
        def pause_it(db: Store) -> str | None:
            until = pause(db, who.id, weeks, now=who.now, source=SOURCE, ip=who.ip)
            return None if until is None else self._paused_text(until)

        return pause_it

    def _resume(self, who: Asker) -> Change:
        resumed = say(self.site.words, "site.pref_resumed")

        def resume_it(db: Store) -> str | None:
            resume(db, who.id, now=who.now, source=SOURCE, ip=who.ip)
            current = db.subscriber(who.id)
            return resumed if current is not None and current.status == "confirmed" else None

        return resume_it

    async def _show(
        self, request: Request, subscriber_id: int, *, status: int = 200, notice: str = ""
    ) -> Response:
        """The page of a confirmed reader; for anyone else, that the address left."""
        site = self.site
        current = await site.store.read(lambda db: db.subscriber(subscriber_id))
        if current is None or not current.email or current.status != "confirmed":
            return site.message(request, "already_out", subscribe_again=True)
        return site.page(
            request, "preferences.html", status, notice=notice, **self._values(request, current)
        )

    def _values(self, request: Request, current: Subscriber) -> dict[str, Any]:
        now = self.site.clock()
        until = current.paused_until if paused(current, now) else None
        return {
            "address": mask_address(current.email),
            "name": current.name,
            "chosen": current.themes,
            "paused_text": self._paused_text(until) if until else "",
            "pause_weeks": PAUSE_WEEKS,
            "action": request.url.path,
        }

    def _paused_text(self, until: datetime) -> str:
        site = self.site
        day = day_label(until, site.config.newsletter.tz, site.plain_words, year=True)
        return say(site.words, "site.pref_paused", until=day)

    def _read(self, request: Request) -> tuple[int, Response | None]:
        """The subscriber id in the URL's token, or the 4xx page to answer instead."""
        site = self.site
        try:
            subscriber_id = read_token(
                site.keys,
                request.path_params["token"],
                PREFERENCES,
                now=site.clock(),
                max_age=timedelta(days=site.config.site.preferences_days),
            )
        except ExpiredToken:
            return 0, site.message(request, "pref_expired", 410)
        except BadToken:
            return 0, site.message(request, "invalid", 400)
        return subscriber_id, None


def _weeks(form: FormData) -> int:
    text = str(form.get("weeks", ""))
    return int(text) if text.isdigit() and len(text) < 3 else 0
