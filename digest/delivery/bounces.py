"""Bounces that arrive later, by email: delivery status notifications (RFC 3464).

A server that accepted a message may still fail to deliver it and say so in a DSN sent to
the envelope sender (`delivery.return_path`). Such a report counts only when it quotes the
Message-ID digest gave that very message (`<ISSUE.SUBSCRIBER.RANDOM@domain>`, kept in the
outbox): a forged or foreign report changes nothing. The rule is the one of synchronous
replies (deliver.py): a permanent mailbox error (5.1.x) marks the subscriber `bounced`; any
other permanent failure only records the message as failed; a delay notice (Action: delayed,
4.x.x) changes nothing, but is told apart from what is not about our messages at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Store

MAX_MESSAGE_BYTES = 2_000_000  # a DSN quotes at most the original message; read no more
_OUR_ID = re.compile(r"<(?P<issue>\d{4}-W\d{2})\.(?P<sid>[1-9]\d{0,17})\.[0-9a-f]+@[^<>\s]+>")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class LateBounce:
    """One failed (or only delayed) delivery a DSN reports for one of our messages."""

    issue_id: str
    subscriber_id: int
    status: str  # "5.1.1"; "4.4.1" for a delay
    diagnostic: str
    delayed: bool = False  # a notice that the server is still trying: nothing to record

    @property
    def mailbox_error(self) -> bool:
        return self.status.startswith("5.1.") and not self.delayed


def read_report(raw: bytes) -> tuple[str | None, list[tuple[str, str]], list[tuple[str, str]]]:
    """(the quoted original Message-ID, [(status, diagnostic) of each failed recipient],
    [(status, diagnostic) of each delayed one])."""
    message = BytesParser(policy=policy.default).parsebytes(raw[:MAX_MESSAGE_BYTES])
    if message.get_content_type() != "multipart/report":
        return None, [], []
    failures: list[tuple[str, str]] = []
    delays: list[tuple[str, str]] = []
    original: str | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            failures += _recipients(part, "failed", "5")
            delays += _recipients(part, "delayed", "4")
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _quoted_message_id(part)
    return original, failures, delays


def _recipients(part: Message, action: str, status_class: str) -> list[tuple[str, str]]:
    """The per-recipient blocks that say `Action: <action>` with a `<status_class>.x.x` Status
    (RFC 3464: failed goes with 5, delayed with 4; a block that mixes them is not trusted)."""
    blocks = part.get_payload()
    found = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Message):
            continue
        status = _STATUS.search(str(block.get("Status", "")))
        said = str(block.get("Action", "")).strip().lower()
        if said == action and status and status[1] == status_class:
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())[:300]
            found.append((status[0], diagnostic))
    return found


def _quoted_message_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        value = inner.get("Message-ID") if isinstance(inner, Message) else None
    else:
        text = part.get_content() if isinstance(part, EmailMessage) else str(part.get_payload())
        value = HeaderParser().parsestr(str(text)).get("Message-ID")
    return " ".join(str(value).split()) if value else None


def bounces_in(store: Store, raw: bytes) -> list[LateBounce]:
    """The failure a DSN reports about a message digest really sent (checked in the outbox);
    failing that, the delay it reports (`delayed`). Empty: not about one of our messages."""
    original, failures, delays = read_report(raw)
    match = _OUR_ID.fullmatch(original or "")
    if match is None or not (failures or delays):
        return []
    issue_id, subscriber_id = match["issue"], int(match["sid"])
    if store.outbox_message_id(issue_id, subscriber_id) != original:
        return []  # not a message we sent: forged, or another list's
    if failures:  # one message, one recipient: the first failure is the one
        status, why = failures[0]
        return [LateBounce(issue_id, subscriber_id, status, why)]
    status, why = delays[0]
    return [LateBounce(issue_id, subscriber_id, status, why, delayed=True)]


def record(store: Store, bounce: LateBounce, now: datetime) -> bool:
    """Write the bounce; True when the subscriber was (newly) marked bounced."""
    if bounce.delayed:
        return False  # the server is still trying: the row stays as it is
    # "DSN" (RFC 3464) marks a failure reported later; it reads the same in French and
    # English, since last_error is shown as it is stored by `digest report`
    error = f"{bounce.status} (DSN) {bounce.diagnostic}".strip()
    store.record_late_failure(
        bounce.issue_id, bounce.subscriber_id, error, bounce.mailbox_error, now
    )
    if not bounce.mailbox_error:
        return False
    return store.change_status(
        bounce.subscriber_id, "bounced", ("confirmed",), now, event="bounce", source="dsn"
    )
