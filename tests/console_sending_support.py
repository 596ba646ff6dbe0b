"""Helpers for the console's test-send, approval and report tests: a site whose store holds
the golden 2023-W19 issue (a real email, as `digest build` stores it) and subscribers, its
clock on the Monday it is due, and a real delivery of it through the library."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from digest.delivery.deliver import DeliveryPaused, DeliveryReport, send_issue
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from tests.console_support import add_staff, sign_in
from tests.deliver_support import ISSUE, add_subscribers
from tests.deliver_support import store_issue as store_golden
from tests.smtp_server import SmtpServer
from tests.web_support import KEYS, Clock, RunningSite, running_site

# Monday 2023-05-15, 9:30 in Paris: past the 9:00 slot of 2023-W19, before its deadline
# (48 hours later).
DUE = datetime(2023, 5, 15, 7, 30, tzinfo=UTC)
LATE = datetime(2023, 5, 17, 8, 0, tzinfo=UTC)
QUICK = "delivery:\n  retry_base: 600\n  retry_wait: 0\n"
# Temporary refusals are given up after an hour (delivery/retry.py retries them).
GIVE_UP = "delivery:\n  retry_base: 60\n  retry_wait: 0\n  retry_hours: 1\n"
READERS = 5
BUSY, GONE = "user00001@example.org", "user00003@example.org"


@contextmanager
def sending_site(
    folder: Path,
    smtp: SmtpServer,
    status: str = "built",
    extra: str = QUICK,
    now: datetime = DUE,
) -> Iterator[RunningSite]:
    with running_site(folder, smtp.url, extra=extra, clock=Clock(now)) as site:
        add_staff(site)
        with Store(site.config.store) as store:
            add_subscribers(store, READERS)
            store_golden(store, status=status)
        yield site


@contextmanager
def signed_in_client(site: RunningSite) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=60) as client:
        answer = sign_in(client)
        assert answer.status_code == 303, answer.text
        yield client


def deliver(site: RunningSite, smtp: SmtpServer) -> DeliveryReport:
    """What `digest send --issue` and `digest run` call, on the site's store."""
    with Store(site.config.store) as store:
        if (issue := store.issue(ISSUE)) and issue.status == "built":
            store.set_issue_status(ISSUE, "approved")
        try:
            return send_issue(
                site.config, store, ISSUE, site.clock, smtp=parse_smtp_url(smtp.url), keys=KEYS
            )
        except DeliveryPaused as paused:
            return paused.report


def digest_run(
    site: RunningSite, smtp: SmtpServer, *, offline: bool = True
) -> subprocess.CompletedProcess[str]:
    """`digest run` as cron runs it, in its own process, on the site's config and store, its
    clock set to DUE (`--as-of`); `offline=False` fetches the feeds (a first build)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_SMTP_URL"] = smtp.url
    env["DIGEST_SECRET"] = "test-secret-0123456789abcdef0123456789"
    config = site.config.store.parent / "feeds.yaml"
    as_of = DUE.isoformat()
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), "run",
         *(["--offline"] if offline else []), "--as-of", as_of],
        capture_output=True, text=True, check=False, env=env, timeout=120,
    )  # fmt: skip


def audit(site: RunningSite) -> list[tuple[str, str | None, dict[str, object]]]:
    with Store(site.config.store) as store:
        return [(e.action, e.issue_id, e.details) for e in reversed(store.audit_entries())]


@contextmanager
def given_up_site(folder: Path, smtp: SmtpServer) -> Iterator[RunningSite]:
    """A site whose issue was sent: BUSY refused for now until the retry deadline passed
    (given up: retryable), GONE bounced (never retried), the three others got it."""
    with sending_site(folder, smtp, extra=GIVE_UP) as site:
        smtp.script.rcpt[BUSY] = "451 4.3.0 Try again later"
        smtp.script.rcpt[GONE] = "550 5.1.1 No such user"
        assert deliver(site, smtp).deferred == 1
        site.clock.advance(minutes=59)  # due again; the next retry would pass the deadline
        assert deliver(site, smtp).failed == 2
        smtp.script.rcpt.clear()
        yield site
