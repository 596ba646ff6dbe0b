"""What every page handler shares: config, store, keys, templates, wording, limits, clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..config import Config
from ..delivery.smtp import SmtpSettings
from ..errors import DigestError, SettingError
from ..models import Period
from ..render.dates import period_label
from ..render.environment import make_env
from ..render.typography import typo_text
from ..render.words import words_for
from ..store import StoredIssue
from ..tokens import Keys, confirm_url
from .mail import confirmation_message
from .mailer import Mailer
from .ratelimit import NoLimit, RateLimiter
from .security import Csrf
from .storage import BUSY_TIMEOUT, StoreAccess

log = logging.getLogger("digest.web")


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
            raise SettingError(
                "newsletter.sender is empty: the confirmation email needs a From: address",
                hint='set newsletter.sender in feeds.yaml, e.g. "Lettre <lettre@example.org>"',
            )
        self.config, self.keys, self.smtp, self.clock = config, keys, smtp, clock
        self.mailer = Mailer(
            smtp, config.store, self.confirmation, clock, busy_timeout=BUSY_TIMEOUT
        )
        self.env = make_env(config)
        self.text_env = make_env(config, autoescape=False)
        self.lang = config.newsletter.language
        self.t = load_messages(self.env, self.lang)
        self.css = _source(self.env, "site/site.css")
        self.csrf = Csrf(keys, secure=config.newsletter.base_url.startswith("https://"))
        self.per_ip, self.per_address = _limiters(config)
        # Opened and closed by the app's lifespan; handlers go through its read and write.
        self.store = StoreAccess(config.store)

    def page(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        html = self.env.get_template(f"site/{template}").render(
            t=self.t,
            lang=self.lang,
            newsletter=self.config.newsletter,
            root=request.scope.get("root_path", "").rstrip("/"),
            **values,
        )
        # Pages may carry tokens or CSRF values: no shared cache may keep them.
        return HTMLResponse(html, status, headers={"cache-control": "no-store"})

    def message(self, request: Request, name: str, status: int = 200) -> HTMLResponse:
        """A page that only says something: `<name>_title` and `<name>_text` from the wording."""
        return self.page(
            request,
            "message.html",
            status,
            heading=self.t[f"{name}_title"],
            text=self.t[f"{name}_text"],
        )

    def label(self, issue: StoredIssue) -> str:
        """'Semaine du 8 au 14 mai 2023': what the issue itself says, not the week's id."""
        period = Period(issue.id, issue.period_start, issue.period_end)
        return period_label(period, self.config.newsletter.tz, words_for(self.lang))

    def confirmation(self, subscriber_id: int, address: str, now: datetime) -> EmailMessage:
        """The confirmation email, its link signed now (the mailer thread calls this)."""
        url = confirm_url(self.config, subscriber_id, now, self.keys)
        return confirmation_message(self.config, self.text_env, self.t, address, url, now)


def load_messages(env: Any, lang: str) -> dict[str, str]:
    """The site's wording in `lang`, from site/messages.yaml (overridable like any template)."""
    data = yaml.safe_load(_source(env, "site/messages.yaml"))
    if not isinstance(data, dict) or not isinstance(data.get(lang), dict):
        raise DigestError(
            f"site/messages.yaml has no '{lang}' wording",
            hint="copy digest/templates/site/messages.yaml into your `templates:` folder"
            " (as site/messages.yaml) and edit it, or delete your copy",
        )
    # French spaces as the newsletter has them (no-break before : ; ! ? and inside « »),
    # applied here so that staff editing messages.yaml type ordinary spaces.
    polish = typo_text if lang == "fr" else str
    return {str(k): polish(str(v)) for k, v in data[lang].items()}


def _source(env: Any, name: str) -> str:
    return str(env.loader.get_source(env, name)[0])


def _limiters(config: Config) -> tuple[RateLimiter, RateLimiter]:
    site = config.site
    if not site.rate_limit:
        return NoLimit(), NoLimit()
    return RateLimiter(site.per_ip, site.window), RateLimiter(site.per_address, site.window)
