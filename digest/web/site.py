"""What every page handler shares: config, store, keys, templates, wording, limits, clock.

The site's wording is the catalogue's site.* messages in the newsletter's language (with the
staff's own locale/<lang>.po first, see docs/messages.md); in French it gets the newsletter's
no-break spaces, so a .po needs only ordinary ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..config import Config
from ..delivery.smtp import SmtpSettings
from ..errors import SettingError
from ..i18n import N_, Messages, messages, say, t
from ..models import Period
from ..render.dates import period_label
from ..render.environment import make_env
from ..render.typography import typo_text
from ..store import ArchivedIssue, Store, StoredIssue
from ..tokens import Keys, confirm_url, preferences_url, unsubscribe_url
from .mail import confirmation_message, welcome_message
from .mailer import Mailer
from .ratelimit import NoLimit, RateLimiter
from .storage import BUSY_TIMEOUT, StoreAccess

log = logging.getLogger("digest.web")
TEASER_CHARS = 160  # a listing's teaser, at most


class Site:
    """The state of one running site. The store is opened by the app's lifespan."""

    def __init__(
        self,
        config: Config,
        keys: Keys,
        smtp: SmtpSettings,
        clock: Callable[[], datetime],
    ) -> None:
        if not config.newsletter.sender.strip():
            raise SettingError(t("serve.no_sender"), hint=t("serve.no_sender_hint"))
        self.config, self.keys, self.smtp, self.clock = config, keys, smtp, clock
        self.mailer = Mailer(
            smtp,
            config.store,
            self.confirmation,
            clock,
            busy_timeout=BUSY_TIMEOUT,
            welcome=self.welcome,
        )
        self.env = make_env(config)
        self.text_env = make_env(config, autoescape=False)
        self.lang = config.newsletter.language
        # Dates as the newsletter writes them; the site's own wording with French spaces.
        self.plain_words = messages(self.lang, config.templates)
        self.words = site_words(self.plain_words)
        self.css = _source(self.env, "site/site.css")
        self.admin_css = _source(self.env, "admin/admin.css")
        self.progress_js = _source(self.env, "admin/progress.js")
        # Who runs the site, in its footer: the postal identity, else the sender's name.
        newsletter = config.newsletter
        self.runner = newsletter.address or parseaddr(newsletter.sender)[0] or newsletter.title
        self.per_ip, self.per_address = _limiters(config)
        # Opened and closed by the app's lifespan; handlers go through its read and write.
        self.store = StoreAccess(config.store)

    def page(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        html = self.env.get_template(f"site/{template}").render(
            _=self.words,
            lang=self.lang,
            newsletter=self.config.newsletter,
            runner=self.runner,
            root=request.scope.get("root_path", "").rstrip("/"),
            offered_themes=self.config.themes,
            **{**_PAGE_DEFAULTS, **values},
        )
        # Pages may carry tokens or CSRF values: no shared cache may keep them.
        return HTMLResponse(html, status, headers={"cache-control": "no-store"})

    def message(
        self, request: Request, name: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        """A page that says something: the title and text of MESSAGE_PAGES[name] (`values`
        fill the text's {fields} and may ask for the subscribe form: subscribe_again)."""
        title, text = MESSAGE_PAGES[name]
        return self.page(
            request,
            "message.html",
            status,
            heading=say(self.words, title),
            text=say(self.words, text, **values),
            **values,
        )

    def label(self, issue: StoredIssue | ArchivedIssue) -> str:
        """'Semaine du 8 au 14 mai 2023': what the issue itself says, not the week's id."""
        period = Period(issue.id, issue.period_start, issue.period_end)
        return period_label(period, self.config.newsletter.tz, self.plain_words)

    def listed(self, issue: ArchivedIssue) -> dict[str, str]:
        """What a list of issues shows of one: its subject, dates and teaser."""
        label = self.label(issue)
        return {
            "id": issue.id,
            "label": label,
            "subject": issue.subject or f"{self.config.newsletter.title} — {label}",
            "teaser": issue.teaser or _clip(" · ".join(issue.openings), TEASER_CHARS),
            "updated": issue.built_at.isoformat(),
        }

    def confirmation(self, subscriber_id: int, address: str, now: datetime) -> EmailMessage:
        """The confirmation email, its link signed now (the mailer thread calls this)."""
        url = confirm_url(self.config, subscriber_id, now, self.keys)
        return confirmation_message(self.config, self.text_env, self.words, address, url, now)

    def welcome(self, subscriber_id: int, address: str, now: datetime) -> EmailMessage:
        """The welcome email after confirming: what comes and when, the latest issue, the
        preference page and the unsubscribe link (the mailer thread calls this, with its
        own store)."""
        with Store(self.config.store, busy_timeout=BUSY_TIMEOUT) as store:
            latest = store.archived_issues(limit=1)
        base = self.config.newsletter.base_url.rstrip("/")
        return welcome_message(
            self.config,
            self.text_env,
            self.words,
            address,
            latest=f"{base}/archives/{latest[0].id}/" if latest else "",
            unsubscribe=unsubscribe_url(self.config, subscriber_id, self.keys),
            preferences=preferences_url(self.config, subscriber_id, now, self.keys),
            now=now,
        )


def _clip(text: str, limit: int) -> str:
    """`text` cut at a word within `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def site_words(words: Messages) -> Messages:
    """`words` as the site shows them: in French with the newsletter's no-break spaces
    (before : ; ! ? and inside « »), added so that staff writing their own .po type
    ordinary spaces."""
    return words.polished(typo_text) if words.language == "fr" else words


# What a page may show without every handler passing it: the form's error, typed address
# and ticked themes, and whether a message page offers the subscribe form.
_PAGE_DEFAULTS: dict[str, Any] = {
    "error": "",
    "email": "",
    "chosen": (),
    "subscribe_again": False,
}

# Pages that only say something, by name: their title and text.
MESSAGE_PAGES = {
    "check": (N_("site.check_title"), N_("site.check_text")),
    "confirmed": (N_("site.confirmed_title"), N_("site.confirmed_text")),
    "already": (N_("site.already_title"), N_("site.already_text")),
    "expired": (N_("site.expired_title"), N_("site.expired_text")),
    "pref_expired": (N_("site.expired_title"), N_("site.pref_expired_text")),
    "invalid": (N_("site.invalid_title"), N_("site.invalid_text")),
    "unsubscribed": (N_("site.unsubscribed_title"), N_("site.unsubscribed_text")),
    "already_out": (N_("site.already_out_title"), N_("site.already_out_text")),
    "forbidden": (N_("site.forbidden_title"), N_("site.forbidden_text")),
    "rate": (N_("site.rate_title"), N_("site.rate_text")),
    "not_found": (N_("site.not_found_title"), N_("site.not_found_text")),
    "error": (N_("site.error_title"), N_("site.error_text")),
    "busy": (N_("site.busy_title"), N_("site.busy_text")),
}


def _source(env: Any, name: str) -> str:
    return str(env.loader.get_source(env, name)[0])


def _limiters(config: Config) -> tuple[RateLimiter, RateLimiter]:
    site = config.site
    if not site.rate_limit:
        return NoLimit(), NoLimit()
    return RateLimiter(site.per_ip, site.window), RateLimiter(site.per_address, site.window)
