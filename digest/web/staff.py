"""The staff console's accounts, sessions and sign-in rules; `digest staff` and the console
call these, so the command line and the browser follow one policy.

Passwords are hashed with argon2id (argon2-cffi's defaults, raised when the library raises
them: a sign-in rehashes an old hash). A session is a random token in the cookie and its
SHA-256 in the store: revoked by deleting the row, ended by idle time or by its lifetime.
Failed sign-ins are counted from the audit log, per address and per IP, so the limits hold
across restarts and across the workers of one store.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..config import ConsoleConfig
from ..errors import UsageError
from ..i18n import t
from ..store import AuditEntry, StaffAccount, StaffSession, Store
from ..subscribers import normalise_email

# A password longer than this is refused: hashing megabytes on each sign-in attempt would
# cost the server more than it protects anyone.
MAX_PASSWORD = 1024
SIGNED_IN, SIGNED_OUT, SIGN_IN_FAILED, THROTTLED = (
    "sign_in",
    "sign_out",
    "sign_in_failed",
    "sign_in_throttled",
)
# A session's last use is written at most this often: reading a page need not write.
TOUCH_EVERY = timedelta(minutes=1)

_HASHER = PasswordHasher()


def audit(
    store: Store,
    actor: str,
    action: str,
    details: dict[str, Any] | None = None,
    *,
    now: datetime,
    issue: str | None = None,
    subscriber: int | None = None,
    ip: str | None = None,
) -> int:
    """Write one entry of the audit log: who (an address, or "cli"), when, what, about what.
    Returns its id."""
    return store.add_audit(AuditEntry(now, actor, action, issue, subscriber, ip, details or {}))


# -- accounts -----------------------------------------------------------------------------


def check_password(password: str, minimum: int) -> None:
    """UsageError unless `password` is between `minimum` and MAX_PASSWORD characters."""
    if len(password) < minimum:
        raise UsageError(
            t("staff.short", minimum=minimum, length=len(password)), hint=t("staff.short_hint")
        )
    if len(password) > MAX_PASSWORD:
        raise UsageError(t("staff.long", maximum=MAX_PASSWORD))


def add_account(
    store: Store, email: str, name: str, password: str, *, config: ConsoleConfig, now: datetime
) -> tuple[str, bool]:
    """Create the account (or give an existing one a new name and password, which ends its
    sessions). Returns the address as stored and whether it is new."""
    address = normalise_email(email)
    check_password(password, config.min_password)
    created = store.save_staff(address, name.strip(), _HASHER.hash(password), now)
    audit(store, "cli", "staff_added" if created else "staff_reset", {"email": address}, now=now)
    return address, created


def remove_account(store: Store, email: str, *, now: datetime) -> str:
    """Delete the account and end its sessions; UsageError if there is none."""
    address = normalise_email(email)
    if not store.remove_staff(address):
        raise UsageError(t("staff.unknown", email=address), hint=t("staff.unknown_hint"))
    audit(store, "cli", "staff_removed", {"email": address}, now=now)
    return address


# -- signing in ---------------------------------------------------------------------------


@cache
def _dummy_hash() -> str:
    """A hash of nothing anyone types, verified when the address has no account: the answer
    then costs what a real check costs, so its timing does not tell who has one."""
    return _HASHER.hash(secrets.token_urlsafe(32))


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches the hash; with None, the same work against a dummy hash
    and False. Slow on purpose (argon2): call it from a worker thread."""
    try:
        matched = _HASHER.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def rehash(password: str) -> str:
    return _HASHER.hash(password)


def throttled(store: Store, config: ConsoleConfig, address: str, ip: str, now: datetime) -> bool:
    """Whether `address` (an account or not: the same rule) or `ip` failed to sign in too
    often within the window. An address's count restarts at its last successful sign-in."""
    since = now - timedelta(seconds=config.failure_window)
    last_in = store.last_action(SIGNED_IN, address)
    account_since = max(since, last_in) if last_in else since
    by_address = store.count_actions(SIGN_IN_FAILED, account_since, actor=address)
    by_ip = store.count_actions(SIGN_IN_FAILED, since, ip=ip)
    return by_address >= config.failures_per_account or by_ip >= config.failures_per_ip


# -- sessions -----------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def limits(config: ConsoleConfig, now: datetime) -> tuple[datetime, datetime]:
    """A session last used before the first moment, or opened before the second, is over."""
    idle = timedelta(minutes=config.idle_minutes)
    return now - idle, now - timedelta(hours=config.lifetime_hours)


def open_session(store: Store, account: StaffAccount, now: datetime) -> str:
    """A new session for `account`: the token for its cookie (the store keeps its hash)."""
    token = secrets.token_urlsafe(32)
    store.open_session(token_hash(token), account.id, now)
    return token


def resume_session(
    store: Store, token: str, config: ConsoleConfig, now: datetime
) -> StaffSession | None:
    """The live session of `token`, its last use moved to `now`; None when there is none,
    or when it was idle too long or is past its lifetime (then it is deleted)."""
    if not token or len(token) > 100:
        return None
    hashed = token_hash(token)
    session = store.staff_session(hashed)
    if session is None:
        return None
    if expired(session, config, now):
        store.close_session(hashed)
        return None
    if now - session.last_seen >= TOUCH_EVERY:
        store.touch_session(hashed, now)
    return session


def expired(session: StaffSession, config: ConsoleConfig, now: datetime) -> bool:
    idle_before, created_before = limits(config, now)
    return session.last_seen < idle_before or session.created_at < created_before


def forget_stale_sessions(store: Store, config: ConsoleConfig, now: datetime) -> None:
    """Delete the sessions that are over but were never used again (so never deleted)."""
    store.close_stale_sessions(*limits(config, now))


def close_session(store: Store, token: str) -> None:
    store.close_session(token_hash(token))


@dataclass(frozen=True)
class SignInCheck:
    """What the first step of a sign-in found: whether to refuse at once, the account to
    check the password against (None: no such account), and the audit entry of the attempt."""

    throttled: bool
    account: StaffAccount | None
    attempt: int = 0


def sign_in_check(
    store: Store, config: ConsoleConfig, address: str, ip: str, now: datetime
) -> SignInCheck:
    """Count the limits and record the attempt as failed, in one transaction, before the
    password is checked: requests sent at once then see each other's attempts, so sending
    many in parallel does not get more guesses past the limits. `signed_in` turns the entry
    into a success when the password matches."""
    with store.transaction():
        if throttled(store, config, address, ip, now):
            audit(store, address, THROTTLED, now=now, ip=ip)
            return SignInCheck(True, None)
        attempt = audit(store, address, SIGN_IN_FAILED, now=now, ip=ip)
        return SignInCheck(False, store.staff_account(address), attempt)


def signed_in(store: Store, check: SignInCheck) -> None:
    """The attempt of `check` succeeded: its audit entry says so, and stops counting."""
    store.set_audit_action(check.attempt, SIGNED_IN)
