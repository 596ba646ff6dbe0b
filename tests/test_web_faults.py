"""Issue 10, "faults that must never cost a subscriber": the site's faults, each reproduced
against the real app under uvicorn on 127.0.0.1 (and a real aiosmtpd, a real second SQLite
connection, a real `digest serve` process where the fault needs one)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from digest.tokens import CONFIRM, UNSUBSCRIBE, make_token
from digest.web import create_app
from tests.smtp_server import SmtpServer
from tests.web_support import KEYS, RunningSite, csrf_of, running_site


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer) -> Iterator[RunningSite]:
    with running_site(tmp_path, smtp_server.url) as running:
        yield running


def _rows(store_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every subscriber and consent-log row, as a plain second connection reads them."""
    with sqlite3.connect(store_path) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in ("subscribers", "consent_log")
        }


def _add(site: RunningSite, email: str, status: str) -> int:
    with Store(site.config.store) as store:
        new_id = store.create_subscriber(
            email, "", status, "fr", site.clock(), event="add", source="cli"
        )
    assert new_id is not None
    return new_id


# -- 1. HEAD never changes state --------------------------------------------------------


def test_head_changes_nothing_on_any_route_that_changes_state_on_post(
    site: RunningSite, smtp_server: SmtpServer
) -> None:
    """Mail scanners prefetch links with HEAD: on every route that changes state on POST,
    HEAD answers as GET does, without a body, and the store and consent log stay as they
    were, whatever the HEAD carries (a one-click body, a CSRF cookie and field)."""
    pending = _add(site, "pending@example.org", "pending")
    confirmed = _add(site, "confirmed@example.org", "confirmed")
    confirm = f"/confirm/{make_token(KEYS, CONFIRM, pending, site.clock())}"
    leave = f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, confirmed)}"
    leave_pending = f"/unsubscribe/{make_token(KEYS, UNSUBSCRIBE, pending)}"
    one_click = {"List-Unsubscribe": "One-Click"}
    with httpx.Client(base_url=site.url) as client:
        csrf = csrf_of(client.get("/").text)
        form = {"email": "new@example.org", "website": "", "csrf": csrf}
        cases = {
            "/confirm/{token}": [(confirm, {}), (confirm, one_click)],
            "/unsubscribe/{token}": [(leave, {}), (leave, one_click), (leave_pending, one_click)],
            "/subscribe": [("/subscribe", form)],
        }
        # Every route that changes state on POST is here: a new one must be added.
        app = create_app(site.config, keys=KEYS, smtp=parse_smtp_url(smtp_server.url))
        posted = {r.path for r in app.routes if "POST" in (getattr(r, "methods", None) or ())}
        assert posted == set(cases)
        before = _rows(site.config.store)
        for path, data in (case for route in cases.values() for case in route):
            head = client.request("HEAD", path, data=data)
            assert _rows(site.config.store) == before, (path, data)
            get = client.get(path)
            assert head.status_code == get.status_code, path
            assert head.content == b"", path
            assert head.headers["content-type"] == get.headers["content-type"], path
            assert head.headers["content-length"] == str(len(get.content)), path
            assert head.headers["x-frame-options"] == "DENY", path
        # The links were good: a POST does what the HEADs did not.
        assert "Inscription confirmée" in client.post(confirm).text
    with Store(site.config.store) as store:
        assert [e.event for e in store.consent_log(pending)] == ["add", "confirm"]
    assert smtp_server.messages == []
