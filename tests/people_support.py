"""What the tests of the console's "Abonnés" and "Sources" pages share: a served site with
themes and feed sources on the loopback feed server, subscribers in its real store, and
the audit log read back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from digest import subscribers as subs
from digest.config import load_config
from digest.delivery.smtp import parse_smtp_url
from digest.store import Store
from digest.web import create_app
from tests.console_support import add_staff
from tests.site_look import THEMES
from tests.web_support import KEYS, Clock, RunningSite, bound_socket, serve, write_config

GOOD_FEED = "Flux <b>bon</b>"  # a name a page must show as text
BROKEN_FEED = "Flux cassé"


def _with_feeds(path: Path, feeds: str) -> None:
    """feeds.yaml with two feed sources on the loopback feed server, before the recaps."""
    text = path.read_text(encoding="utf-8")
    sources = (
        "sources:\n"
        f'  - name: "{GOOD_FEED}"\n'
        f'    url: "{feeds}/feeds/rss20.xml"\n'
        f'  - name: "{BROKEN_FEED}"\n'
        f'    url: "{feeds}/status/503"\n'
    )
    path.write_text(text.replace("sources:\n", sources, 1), encoding="utf-8")


@contextmanager
def people_site(folder: Path, smtp_url: str, feeds: str) -> Iterator[RunningSite]:
    """The real app under uvicorn with themes, two feeds and a staff account."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    path = write_config(folder, url, THEMES)
    _with_feeds(path, feeds)
    config = load_config(path)
    clock = Clock()
    app = create_app(config, keys=KEYS, smtp=parse_smtp_url(smtp_url), clock=clock)
    with serve(app, sock):
        running = RunningSite(url, config, clock)
        add_staff(running)
        yield running


def add_people(site: RunningSite, people: list[tuple[str, str, tuple[str, ...]]]) -> None:
    """Confirmed subscribers (address, name, themes), as `subscribers add` makes them."""
    with Store(site.config.store) as store:
        for email, name, themes in people:
            subs.add(
                store, email, name=name, language="fr", now=site.clock(), source="cli",
                themes=themes,
            )  # fmt: skip


def pending(site: RunningSite, email: str) -> None:
    """An address that subscribed on the form and has not confirmed yet."""
    with Store(site.config.store) as store:
        subs.request_subscription(
            store, email, language="fr", now=site.clock(), source="web", ip="192.0.2.1"
        )


def left(site: RunningSite, email: str) -> None:
    add_people(site, [(email, "", ())])
    with Store(site.config.store) as store:
        subs.remove(store, email, now=site.clock() + timedelta(minutes=1), source="cli")


def audit(site: RunningSite) -> list[tuple[str, str, dict[str, object]]]:
    """(action, actor, details) of the console's changes in the audit log, oldest first:
    sign-ins and the command line's entries (the staff account's creation) left out."""
    with Store(site.config.store) as store:
        entries = reversed(store.audit_entries(1000))
        return [
            (e.action, e.actor, e.details)
            for e in entries
            if e.actor != "cli" and not e.action.startswith("sign")
        ]


def statuses(site: RunningSite) -> dict[str, str]:
    with Store(site.config.store) as store:
        return {s.email: s.status for s in store.subscribers()}
