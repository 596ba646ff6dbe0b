"""Helpers for the delivery tests: a config and a store in tmp_path holding subscribers and
an issue as `digest build` stores it (the golden 2023-W19 email, placeholders included).
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from digest.config import Config, load_config
from digest.store import Store, StoredIssue
from tests.web_support import write_config

GOLDEN = Path(__file__).parent / "golden"
ISSUE = "2023-W19"
SUBJECT = "La lettre du Cerdd — semaine du 8 au 14 mai 2023"
NOW = datetime(2023, 5, 15, 7, 0, tzinfo=UTC)
FAST = "delivery:\n  retry_base: 0.05\n  retry_wait: 5\n  batch: 20\n"


def make_config(
    folder: Path, extra: str = FAST, base_url: str = "https://lettre.example.org"
) -> Config:
    return load_config(write_config(folder, base_url, extra))


def add_subscribers(store: Store, count: int, start: int = 0) -> list[str]:
    """`count` confirmed subscribers user<i>@example.org, in one transaction (fast)."""
    emails = [f"user{i:05d}@example.org" for i in range(start, start + count)]
    when = NOW.isoformat()
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO subscribers (email, status, created_at, updated_at, confirmed_at)"
            " VALUES (?, 'confirmed', ?, ?, ?)",
            [(e, when, when, when) for e in emails],
        )
    return emails


def store_issue(
    store: Store,
    status: str = "approved",
    subject: str = SUBJECT,
    issue_id: str = ISSUE,
    html: str | None = None,
) -> None:
    store.save_issue(
        StoredIssue(
            id=issue_id,
            period_start=datetime(2023, 5, 8, tzinfo=UTC),
            period_end=datetime(2023, 5, 15, tzinfo=UTC),
            built_at=NOW,
            data=(GOLDEN / "build-2023-W19.json").read_text(encoding="utf-8"),
            html=html if html is not None else (GOLDEN / "digest.html").read_text("utf-8"),
            text=(GOLDEN / "digest.txt").read_text(encoding="utf-8"),
            web=(GOLDEN / "web.html").read_text(encoding="utf-8"),
            status="built",
        )
    )
    store.set_issue_subject(issue_id, subject)
    if status != "built":
        store.set_issue_status(issue_id, status)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative message, in that order, decoded."""
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    return str(parts[0].get_content()), str(parts[1].get_content())


def unsubscribe_links(body: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"'<>]+/unsubscribe/[A-Za-z0-9._-]+", body))
