"""The issue page's test site: a real uvicorn, a SQLite store, a folder of recaps and a feed
served by the loopback HTTP server, and issue 2026-W19 built as `digest build` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from digest.config import Config, load_config
from digest.delivery.smtp import parse_smtp_url
from digest.period import week_period
from digest.pipeline import build_and_store
from digest.store import Store
from digest.web import create_app
from tests.console_support import add_staff
from tests.http_server import FeedServer
from tests.web_support import KEYS, Clock, RunningSite, bound_socket, serve

WEEK = "2026-W19"  # the clock's Monday 2026-05-11 09:00 UTC is the next week's first day
HOSTILE = "<script>alert(1)</script> Fête de l'eau"

FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Partenaire</title><link>https://partenaire.example.org/</link>
<item><title>{HOSTILE.replace("<", "&lt;")}</title>
<link>https://partenaire.example.org/fete</link>
<description>Une fête au bord de l'eau.</description>
<pubDate>Wed, 06 May 2026 10:00:00 +0200</pubDate></item>
<item><title>Vélo partagé à Arras</title>
<link>https://partenaire.example.org/velo</link>
<description>Des vélos pour tous.</description>
<pubDate>Thu, 07 May 2026 10:00:00 +0200</pubDate></item>
</channel></rss>
"""

RECAP = """---
title: Journée de la concertation
date: 2026-05-05
theme: participation
summary: Une journée pour parler de démocratie locale.
---
Le compte rendu.
"""

PAGE = b"""<!doctype html><html><head><title>Titre de la balise</title>
<meta property="og:title" content="Atelier climat &amp; sols">
<meta name="description" content="Un atelier pour parler des sols vivants.">
</head><body>Bonjour</body></html>"""


def write_site_config(folder: Path, base_url: str, feed_url: str) -> Path:
    (folder / "recaps").mkdir(exist_ok=True)
    (folder / "recaps" / "2026-05-05-concertation.md").write_text(RECAP, encoding="utf-8")
    path = folder / "feeds.yaml"
    path.write_text(
        "newsletter:\n"
        '  title: "Lettre du Cerdd"\n'
        "  language: fr\n"
        f'  base_url: "{base_url}"\n'
        '  sender: "Lettre du Cerdd <lettre@example.org>"\n'
        "sources:\n"
        '  - name: "Récits"\n'
        "    path: recaps\n"
        '  - name: "Partenaire"\n'
        f'    url: "{feed_url}"\n'
        "themes:\n"
        "  - id: participation\n"
        '    title: "Participation citoyenne"\n'
        '    keywords: ["concertation", "démocratie"]\n'
        "  - id: mobilite\n"
        '    title: "Mobilité"\n'
        '    keywords: ["vélo"]\n'
        "store: digest.db\n",
        encoding="utf-8",
    )
    return path


@contextmanager
def issue_site(folder: Path, feeds: FeedServer, smtp_url: str) -> Iterator[RunningSite]:
    """The site, a staff account, and issue WEEK built from the feed and the recaps."""
    feed_url = feeds.add("partenaire", FEED.encode())
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = load_config(write_site_config(folder, url, feed_url))
    clock = Clock()
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_build, config, clock).result()
    app = create_app(config, keys=KEYS, smtp=parse_smtp_url(smtp_url), clock=clock)
    with serve(app, sock):
        site = RunningSite(url, config, clock)
        add_staff(site)
        yield site


def _build(config: Config, clock: Clock) -> None:
    with Store(config.store) as store:
        build_and_store(config, week_period(WEEK, config.newsletter.tz), clock(), store)


def overrides_path(site: RunningSite) -> Path:
    folder = site.config.issue.overrides
    assert folder is not None
    return folder / f"{WEEK}.md"
