"""Helpers for the console tests: a staff account in the site's store, signing in over
real HTTP as a browser does (the sign-in page first, for its CSRF cookie and field)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import httpx

from digest.period import week_period
from digest.store import Store, StoredIssue
from digest.web.staff import add_account
from tests.web_support import RunningSite

EMAIL = "camille@cerdd.example.org"
PASSWORD = "correct horse battery staple"


def add_staff(site: RunningSite, email: str = EMAIL, password: str = PASSWORD) -> None:
    with Store(site.config.store) as store:
        add_account(store, email, "Camille", password, config=site.config.console, now=site.clock())


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name} in:\n{page}"
    return found.group(1)


def sign_in(
    client: httpx.Client, email: str = EMAIL, password: str = PASSWORD, next_url: str = ""
) -> httpx.Response:
    page = client.get("/admin/login")
    assert page.status_code == 200, page.text
    form = {"csrf": hidden(page.text, "csrf"), "email": email, "password": password}
    if next_url:
        form["next"] = next_url
    return client.post("/admin/login", data=form)


def store_issue(
    site: RunningSite, week: str, sources: list[dict[str, object]], status: str = "built"
) -> None:
    """An issue as `digest build` stores it, with these sources in its digest.json."""
    tz = site.config.newsletter.tz
    period = week_period(week, tz)
    data = {"issue": week, "featured": None, "sections": [], "agenda": None, "sources": sources}
    built: datetime = period.end + timedelta(hours=1)
    with Store(site.config.store) as store:
        store.save_issue(
            StoredIssue(
                week, period.start, period.end, built, json.dumps(data), "", "", "", "built"
            )
        )
        if status != "built":
            store.set_issue_status(week, status)
