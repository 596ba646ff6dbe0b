"""The confirmation email: plain text, built only from the config and the signed link.

Nothing the visitor typed goes into it (not even a name), so the subscribe form cannot be
used to send chosen text to a third party; the address itself appears only in To:.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

import jinja2

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
    message = EmailMessage()
    message["Subject"] = " ".join(say(words, "site.email_subject", title=newsletter.title).split())
    message["From"] = newsletter.sender
    message["To"] = address
    message["Date"] = format_datetime(now)
    domain = parseaddr(newsletter.sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("confirm", domain=domain)
    # Tells vacation responders and ticket systems not to answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message
