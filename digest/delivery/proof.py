"""A proof copy: the issue as subscribers will get it, to one address, recorded nowhere.

    send_proof(config, store, issue_id, address, clock, smtp=..., keys=...) -> Message-ID

The subject is prefixed "[TEST] ". No outbox row is written and the issue's status does not
change, so staff can test-send a built issue before approving it, as often as they like.
"""

from __future__ import annotations

import secrets
import smtplib
from datetime import datetime

from ..config import Config
from ..errors import DeliveryError
from ..i18n import t
from ..store import Store
from ..subscribers import normalise_email
from ..tokens import Keys, preferences_url, unsubscribe_url
from .deliver import Clock, issue_subject, sendable_issue
from .message import Recipient, build_template, sender_domain
from .smtp import SmtpConnection, SmtpSettings, server_reply


def send_proof(
    config: Config,
    store: Store,
    issue_id: str,
    address: str,
    clock: Clock,
    *,
    smtp: SmtpSettings,
    keys: Keys,
) -> str:
    """One copy of the issue to `address`, subject "[TEST] ", recorded nowhere. Its links
    are the subscriber's own when `address` subscribes, else a harmless invalid token."""
    stored = sendable_issue(store, issue_id)
    address = normalise_email(address)
    subject = issue_subject(store, stored, config)
    template = build_template(
        config, issue_id, subject, stored.html, stored.text, clock(), test=True
    )
    message_id = f"<{issue_id}.test.{secrets.token_hex(6)}@{sender_domain(config)}>"
    recipient = Recipient(address, message_id, *_links(config, store, address, keys, clock()))
    _send(smtp, template.sender, address, template.render(recipient))
    return message_id


def _links(
    config: Config, store: Store, address: str, keys: Keys, now: datetime
) -> tuple[str, str]:
    """The subscriber's own unsubscribe and preference links; for anyone else links the
    site refuses ("not valid"), so a proof forwarded around cannot touch a stranger."""
    known = store.subscriber_by_email(address)
    if known is not None:
        return (
            unsubscribe_url(config, known.id, keys),
            preferences_url(config, known.id, now, keys),
        )
    base = config.newsletter.base_url.rstrip("/")
    return f"{base}/unsubscribe/test", f"{base}/preferences/test"


def _send(smtp: SmtpSettings, sender: str, address: str, data: bytes) -> None:
    with SmtpConnection(smtp) as connection:
        try:
            refused = connection.send_bytes(sender, [address], data)
        except smtplib.SMTPException as exc:
            raise DeliveryError(
                t("delivery.error.proof_not_taken", error=server_reply(exc)),
                hint=t("smtp.error.server_log"),
            ) from exc
    if refused:
        raise DeliveryError(
            t("smtp.error.refused", address=address, reply=refused[0].reply),
            hint=t("smtp.error.server_log"),
        )
