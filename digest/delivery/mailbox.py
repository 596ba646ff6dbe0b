"""Unsubscribe requests that arrive by email: the mailto of the List-Unsubscribe header.

Mail clients that do not use the one-click https link write to that address with the
subject the header gave them: "unsubscribe <signed token>". The token, not the From: line
(which anyone can write), says who leaves. Staff pipe that mailbox (or saved messages) into
`digest subscribers unsubscribe-mail`.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.parser import BytesParser
from typing import TYPE_CHECKING

from ..i18n import t
from ..subscribers import Leaving, leave
from ..tokens import UNSUBSCRIBE, BadToken, Keys, read_token

if TYPE_CHECKING:
    from ..store import Store

MAX_MESSAGE_BYTES = 1_000_000  # an unsubscribe request is a few KB; read no more than this
_TOKEN = re.compile(r"(?<![\w.-])u\.[1-9][0-9]{0,17}\.[0-9a-f]{8}\.[A-Za-z0-9_-]{22}(?![\w-])")


class NoToken(BadToken):
    """The subject holds no unsubscribe token at all (a BadToken: it names no one either)."""


def token_in(raw: bytes) -> str | None:
    """The unsubscribe token in the message's Subject (a reply's "Re: " and all), if any."""
    headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    match = _TOKEN.search(" ".join(str(headers.get("Subject", "")).split()))
    return match[0] if match else None


def unsubscribe_by_mail(store: Store, raw: bytes, keys: Keys, *, now: datetime) -> Leaving:
    """Unsubscribe whoever the token in the message names; BadToken if it names no one."""
    token = token_in(raw[:MAX_MESSAGE_BYTES])
    if token is None:
        raise NoToken(t("mailbox.no_token"), hint=t("mailbox.no_token_hint"))
    subscriber_id = read_token(keys, token, UNSUBSCRIBE)
    return leave(store, subscriber_id, now=now, source="mail", ip=None)
