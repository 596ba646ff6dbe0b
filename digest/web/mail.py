"""The confirmation and welcome emails: plain text, built only from the config and links.

Nothing the visitor typed goes into them (not even a name), so the subscribe form cannot be
used to send chosen text to a third party; the address itself appears only in To:.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import jinja2
from babel.dates import get_day_names

from ..config import Config
from ..i18n import Messages, say


def confirmation_message(
    config: Config,
    env: jinja2.Environment,
    words: Messages,
    address: str,
    url: str,
    now: datetime,
) -> EmailMessage:
    """The message asking `address` to confirm, with `url` (the confirm link); `words` are
    the site's messages (site.email_*)."""
    newsletter = config.newsletter
    body = env.get_template("site/confirm_email.txt").render(
        _=words,
        newsletter=newsletter,
        url=url,
        days=config.site.confirm_days,
        base=newsletter.base_url.rstrip("/"),
    )
    subject = say(words, "site.email_subject", title=newsletter.title)
    return _message(config, "confirm", subject, address, body, now)


def welcome_message(
    config: Config,
    env: jinja2.Environment,
    words: Messages,
    address: str,
    *,
    latest: str,
    unsubscribe: str,
    preferences: str,
    now: datetime,
) -> EmailMessage:
    """The welcome after confirming: when issues come, the latest one's link (`latest`,
    empty before the first issue), the preference page and how to leave."""
    newsletter = config.newsletter
    body = env.get_template("site/welcome_email.txt").render(
        _=words,
        newsletter=newsletter,
        when=schedule_text(config, words),
        latest=latest,
        unsubscribe=unsubscribe,
        preferences=preferences,
        base=newsletter.base_url.rstrip("/"),
    )
    subject = say(words, "site.welcome_subject", title=newsletter.title)
    return _message(config, "welcome", subject, address, body, now)


def schedule_text(config: Config, words: Messages) -> str:
    """'chaque lundi, à partir de 9 h': the schedule as readers are told it."""
    schedule = config.schedule
    day = get_day_names("wide", locale=words.language)[schedule.weekday_number]
    return say(words, "site.schedule", day=day, hour=schedule.hour)


def _message(
    config: Config, kind: str, subject: str, address: str, body: str, now: datetime
) -> EmailMessage:
    newsletter = config.newsletter
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = newsletter.sender
    message["To"] = address
    message["Date"] = format_datetime(now)
    domain = parseaddr(newsletter.sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(kind, domain=domain)
    # Tells vacation responders and ticket systems not to answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message
