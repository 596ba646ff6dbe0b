"""Signed tokens for the links in emails: confirm and preferences (both expire) and
unsubscribe (never expires).

A token is HMAC-SHA256 over (purpose, subscriber id, issue time, key id) with a key from
`DIGEST_SECRET`. That variable may hold several comma-separated keys for rotation: the first
signs, every one verifies, so links already in inboxes keep working while the new key takes
over. The key id is derived from the key itself, not its position, so reordering is safe.

    c.<id>.<issued>.<kid>.<mac>   confirm: valid for `max_age` after <issued>
    u.<id>.<kid>.<mac>            unsubscribe: valid forever (an old email must still work)
    p.<id>.<issued>.<kid>.<mac>   preferences: valid for `max_age` after <issued> (the send)

The purpose is both the first letter and part of what the MAC covers, so a token made for
one purpose never reads as another: the preference link (which shows a name and themes,
and may be forwarded with the email) cannot unsubscribe, and the unsubscribe link cannot
open the preferences.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .config import Config
from .errors import DigestError, SettingError
from .i18n import t

SECRET_ENV = "DIGEST_SECRET"
CONFIRM = "c"
UNSUBSCRIBE = "u"
PREFERENCES = "p"
MIN_KEY_LENGTH = 16
_SHAPE = re.compile(
    r"(?P<purpose>[cup])\.(?P<id>[1-9][0-9]{0,17})(?:\.(?P<issued>[0-9]{1,12}))?"
    r"\.(?P<kid>[0-9a-f]{8})\.(?P<mac>[A-Za-z0-9_-]{22})"
)


class BadToken(DigestError):
    """The token is malformed, forged, signed by an unknown key, or for another purpose."""

    exit_code = 2


class ExpiredToken(BadToken):
    """A genuine confirm or preferences token, too old to be used."""


@dataclass(frozen=True)
class Keys:
    """The signing keys, first one signs. Built by `load_keys`; never printed."""

    secrets: tuple[bytes, ...]

    def __repr__(self) -> str:
        return f"Keys({len(self.secrets)} key(s))"

    @property
    def signing(self) -> bytes:
        return self.secrets[0]

    def by_kid(self, kid: str) -> bytes | None:
        return next((k for k in self.secrets if key_id(k) == kid), None)


def load_keys(environ: Mapping[str, str] | None = None) -> Keys:
    """The keys in $DIGEST_SECRET; a SettingError with a hint when missing or too short."""
    raw = (os.environ if environ is None else environ).get(SECRET_ENV, "")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise SettingError(t("token.no_secret"), hint=t("token.secret_hint"))
    short = [i + 1 for i, p in enumerate(parts) if len(p) < MIN_KEY_LENGTH]
    if short:
        raise SettingError(
            t("token.short_key", key=short[0], length=MIN_KEY_LENGTH), hint=t("token.secret_hint")
        )
    return Keys(tuple(p.encode() for p in parts))


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"digest-key-id:" + key).hexdigest()[:8]


def make_token(keys: Keys, purpose: str, subscriber_id: int, now: datetime | None = None) -> str:
    """A token for `purpose` (CONFIRM and PREFERENCES need `now`, the issue time)."""
    kid = key_id(keys.signing)
    issued = "" if purpose == UNSUBSCRIBE else str(int(_required(now).timestamp()))
    mac = _mac(keys.signing, purpose, subscriber_id, issued, kid)
    middle = f".{issued}" if issued else ""
    return f"{purpose}.{subscriber_id}{middle}.{kid}.{mac}"


def read_token(
    keys: Keys,
    token: str,
    purpose: str,
    now: datetime | None = None,
    max_age: timedelta | None = None,
) -> int:
    """The subscriber id in a genuine token for `purpose`; BadToken (or ExpiredToken) if not."""
    match = _SHAPE.fullmatch(token)
    if match is None or match["purpose"] != purpose:
        raise BadToken(t("token.invalid"), hint=t("token.invalid_hint"))
    if (match["issued"] is None) != (purpose == UNSUBSCRIBE):
        raise BadToken(t("token.invalid"), hint=t("token.invalid_hint"))
    key = keys.by_kid(match["kid"])
    issued = match["issued"] or ""
    subscriber_id = int(match["id"])
    expected = _mac(key, purpose, subscriber_id, issued, match["kid"]) if key else ""
    if not key or not hmac.compare_digest(expected, match["mac"]):
        raise BadToken(t("token.invalid"), hint=t("token.forged_hint"))
    if purpose != UNSUBSCRIBE and max_age is not None:
        age = _required(now).timestamp() - int(issued)
        if age > max_age.total_seconds() or age < -300:  # 5 min of clock skew between hosts
            raise ExpiredToken(t("token.expired"), hint=t("token.expired_hint"))
    return subscriber_id


def confirm_url(config: Config, subscriber_id: int, now: datetime, keys: Keys | None = None) -> str:
    """The link in the confirmation email (`/confirm/<token>` under newsletter.base_url)."""
    token = make_token(keys or load_keys(), CONFIRM, subscriber_id, now)
    return f"{_base(config)}/confirm/{token}"


def unsubscribe_url(config: Config, subscriber_id: int, keys: Keys | None = None) -> str:
    """The per-subscriber unsubscribe link (also the RFC 8058 one-click POST target)."""
    token = make_token(keys or load_keys(), UNSUBSCRIBE, subscriber_id)
    return f"{_base(config)}/unsubscribe/{token}"


def preferences_url(
    config: Config, subscriber_id: int, now: datetime, keys: Keys | None = None
) -> str:
    """The footer's link to the reader's preference page (`/preferences/<token>`), valid
    for `site.preferences_days` after `now` (when the email is sent)."""
    token = make_token(keys or load_keys(), PREFERENCES, subscriber_id, now)
    return f"{_base(config)}/preferences/{token}"


def _mac(key: bytes, purpose: str, subscriber_id: int, issued: str, kid: str) -> str:
    message = f"digest-link-v1|{purpose}|{subscriber_id}|{issued}|{kid}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _base(config: Config) -> str:
    return config.newsletter.base_url.rstrip("/")


def _required(now: datetime | None) -> datetime:
    if now is None:
        raise ValueError("a confirm or preferences token needs `now`")
    return now
