"""A link staff add to an issue: its page's title and description fetched (with the feeds'
limits), then written as a recap file with front matter in the recaps folder, which the
next build reads like any recap (docs/feeds-and-recaps.md).

    found = await page_summary("https://…", config.fetch)      # PageSummary or FetchError
    path = write_link_recap(config, Link(url, title, summary, theme), period, now)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import yaml

from ..config import Config, FetchConfig, SourceConfig
from ..errors import FetchError, UsageError
from ..i18n import t
from ..models import Period
from ..overrides import move_targets
from ..sources.http import fetch_within_deadline, open_client
from ..text import clean_title, summarize
from ..urls import http_url
from .overrides_file import write_atomically

# Title first from og:, then twitter:, then <title>; description likewise, then the
# plain meta description.
TITLE_KEYS = ("og:title", "twitter:title")
DESCRIPTION_KEYS = ("og:description", "twitter:description", "description")
MAX_TITLE = 300
SLUG_WORDS = 8


@dataclass(frozen=True)
class PageSummary:
    title: str
    description: str


@dataclass(frozen=True)
class Link:
    """What staff typed: the URL, and title, summary and theme when they gave them."""

    url: str
    title: str = ""
    summary: str = ""
    theme: str = ""


class _Meta(HTMLParser):
    """Collects <meta property|name=… content=…> and the first <title>'s text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (named.get("property") or named.get("name") or "").strip().lower()
            if key and "content" in named:
                self.meta.setdefault(key, named["content"])
        self._in_title = tag == "title" and not self.title

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def summary_of(html: str) -> PageSummary:
    """A page's title and description from its og:/twitter: meta, <title>, description."""
    parser = _Meta()
    parser.feed(html)
    parser.close()
    title = next((parser.meta[k] for k in TITLE_KEYS if parser.meta.get(k, "").strip()), "")
    described = (parser.meta[k] for k in DESCRIPTION_KEYS if parser.meta.get(k, "").strip())
    description = next(described, "")
    return PageSummary(
        clean_title(title or parser.title)[:MAX_TITLE], summarize(clean_title(description))
    )


_CHARSET = re.compile(r"charset=[\"']?([\w-]+)", re.IGNORECASE)


def _decoded(body: bytes, content_type: str) -> str:
    """The page's text: its declared charset (header, else a <meta> near the top), else UTF-8."""
    found = _CHARSET.search(content_type) or _CHARSET.search(body[:2048].decode("ascii", "ignore"))
    try:
        return body.decode(found.group(1) if found else "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


async def page_summary(url: str, fetch: FetchConfig) -> PageSummary:
    """Fetch `url` as a feed is fetched (deadline, byte cap, counted http(s) redirects,
    the newsletter's User-Agent) and read its title and description; FetchError else."""
    async with open_client(fetch, 1) as client:
        fetched = await fetch_within_deadline(client, url, None, fetch)
    kind = fetched.headers.get("content-type", "")
    if kind and "html" not in kind.lower():
        raise FetchError(t("link.not_html", kind=kind[:60]))
    return summary_of(_decoded(fetched.body, kind))


def checked_url(typed: str) -> str:
    url = http_url(typed.strip())
    if url is None:
        raise UsageError(t("link.bad_url"), hint=t("link.bad_url_hint"))
    return url


def recaps_source(config: Config) -> SourceConfig:
    """The first recaps folder of the config: where added links go."""
    for source in config.sources:
        if source.path is not None and source.enabled:
            return source
    raise UsageError(t("link.no_folder"), hint=t("link.no_folder_hint"))


def write_link_recap(config: Config, link: Link, period: Period, now: datetime) -> Path:
    """The recap file of `link` (never overwriting one): front matter with title, date
    (now, or the period's last hour when now is past it: the build then selects it),
    url, theme and summary."""
    if not link.title.strip():
        raise UsageError(t("link.no_title"), hint=t("link.no_title_hint"))
    if link.theme and link.theme not in move_targets(config):
        raise UsageError(t("edit.unknown_section", section=link.theme))
    folder = recaps_source(config).path
    assert folder is not None  # recaps_source only returns folders
    moment = now if now in period else period.end - timedelta(hours=1)
    moment = moment.astimezone(config.newsletter.tz)
    front = {"title": clean_title(link.title)[:MAX_TITLE], "date": moment.isoformat()}
    front["url"] = checked_url(link.url)
    if link.theme:
        front["theme"] = link.theme
    if link.summary.strip():
        front["summary"] = " ".join(link.summary.split())
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n"
    path = _free_name(folder, f"{moment.date().isoformat()}-{slug(front['title'])}")
    write_atomically(path, text)
    return path


def slug(title: str) -> str:
    """A file name from a title: ASCII words joined by dashes ("journee-de-l-eau")."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())[:SLUG_WORDS]
    return "-".join(words) or "lien"


def _free_name(folder: Path, stem: str) -> Path:
    path, number = folder / f"{stem}.md", 2
    while path.exists():
        path, number = folder / f"{stem}-{number}.md", number + 1
    return path
