"""The one config model: reads feeds.yaml, checks all of it, and returns a frozen Config.

Every problem is collected before anything is raised, each with its location
(`feeds.yaml:12: sources[3].url: not an http(s) URL`), so a person fixes the file in one go.
The tables `NEWSLETTER_KEYS`, `SOURCE_KEYS`, ... drive defaults, validation and the README.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .checking import Check, Checker, Key, TooLarge, did_you_mean, kind_name, load_yaml
from .errors import ConfigError, quoted


def _http(value: Any) -> str | None:
    ok = isinstance(value, str) and re.match(r"^https?://[^/\s]+", value)
    return None if ok else "not an http(s) URL"


def _timezone(value: Any) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return f"unknown timezone {quoted(value)} (e.g. Europe/Paris)"
    return None


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _fraction(value: Any) -> str | None:
    return None if 0 < value <= 1 else "must be a number above 0 and at most 1"


def _hour(value: Any) -> str | None:
    return None if 0 <= value <= 23 else "must be an hour from 0 to 23"


def _identifier(value: Any) -> str | None:
    ok = re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value)
    return None if ok else "use lower-case letters, digits, '-' or '_'"


NEWSLETTER_KEYS: dict[str, Key] = {
    "title": Key(str, doc="shown in the email and the subject"),
    "language": Key(str, "fr", "fr or en: wording and dates", _one_of("fr", "en")),
    "timezone": Key(str, "Europe/Paris", "the issue's weeks and dates", _timezone),
    "base_url": Key(str, "http://localhost:8000", "where `digest serve` is reached", _http),
    "sender": Key(str, "", 'From: of every email, e.g. "Lettre <lettre@example.org>"'),
    "subscribe_url": Key(str, "", "the 'S'inscrire' link (default: base_url + '/')"),
    "logo": Key(str, "", "URL of a logo shown in the email header (optional)"),
    "utm": Key(bool, False, "tag outgoing links with utm_source/medium/campaign/content"),
}
SOURCE_KEYS: dict[str, Key] = {
    "name": Key(str, doc="shown as the item's source"),
    "url": Key(str, None, "an RSS or Atom feed", _http),
    "path": Key(str, None, "a folder of Markdown recaps, or a feed file on disk"),
    "snapshot": Key(
        str,
        None,
        "a copy of this feed on disk: when the store holds no cached copy, `--offline` reads"
        " it (demos, tests, a partner down during a demo); an online build ignores it",
    ),
    "theme": Key(str, None, "default theme id for this source's items"),
    "categories": Key(dict, {}, "this feed's categories mapped to theme ids"),
    "enabled": Key(bool, True, "false skips the source"),
}
THEME_KEYS: dict[str, Key] = {
    "id": Key(str, doc="stable identifier, used in overrides and digest.json", check=_identifier),
    "title": Key(str, doc="section title"),
    "keywords": Key(list, [], "words or phrases that put an item in this section"),
    "categories": Key(list, [], "feed categories that put an item in this section"),
}
FETCH_KEYS: dict[str, Key] = {
    "concurrency": Key(int, 10, "feeds fetched at once", _positive),
    "deadline": Key((int, float), 20.0, "seconds a whole feed fetch may take", _positive),
    "max_bytes": Key(int, 5_000_000, "decoded bytes a feed may have", _positive),
    "max_redirects": Key(int, 3, "redirects followed"),
    "user_agent": Key(str, "", "User-Agent header (default names digest and its version)"),
}
SELECT_KEYS: dict[str, Key] = {
    "title_similarity": Key(
        (int, float), 0.85, "0-1: titles at least this alike are the same news", _fraction
    ),
    "future_tolerance": Key(
        (int, float), 2.0, "hours a date may be ahead of now before it is not trusted"
    ),
}
ISSUE_KEYS: dict[str, Key] = {
    "fallback_title": Key(str, "", "section of items no theme claims (default: Autres actualités)"),
    "max_per_section": Key(int, 8, "items shown per section at most", _positive),
    "max_items": Key(int, 40, "items in one issue at most", _positive),
    "overrides": Key(str, "content/issues", "folder of per-issue override files"),
    "featured_title": Key(str, "", "section of pinned items (default: À la une / Featured)"),
    "agenda_title": Key(str, "", "section of upcoming events (default: Agenda)"),
}
SITE_KEYS: dict[str, Key] = {
    "rate_limit": Key(bool, True, "limit subscribe requests per IP and per address"),
    "per_ip": Key(int, 10, "subscribe requests one IP may make per window", _positive),
    "per_address": Key(int, 3, "confirmation emails one address may get per window", _positive),
    "window": Key((int, float), 3600.0, "seconds of the rate-limit window", _positive),
    "confirm_days": Key(int, 7, "days a confirmation link stays valid", _positive),
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULE_KEYS: dict[str, Key] = {
    "weekday": Key(str, "monday", "day the issue of the past week goes out", _one_of(*WEEKDAYS)),
    "hour": Key(int, 9, "local hour (0-23) from which it goes out", _hour),
    "approval": Key(
        str,
        "required",
        "required: staff run `digest approve`; auto: sent at once",
        _one_of("required", "auto"),
    ),
    "min_items": Key(int, 3, "an issue with fewer items is not sent (and says so)"),
    "deadline_hours": Key(
        (int, float), 48.0, "hours after the slot past which it is not sent", _positive
    ),
}


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


DELIVERY_KEYS: dict[str, Key] = {
    "connections": Key(int, 4, "SMTP connections used in parallel", _positive),
    "batch": Key(
        int, 100, "messages marked 'sending' per commit: the most a crash re-sends", _positive
    ),
    "rate": Key((int, float), 0.0, "messages per second at most (0: no limit)", _not_negative),
    "per_minute": Key(int, 0, "messages per minute at most (0: no limit)", _not_negative),
    "per_hour": Key(int, 0, "messages per hour at most (0: no limit)", _not_negative),
    "retry_base": Key(
        (int, float), 300.0, "seconds before retrying a 4xx; doubles each attempt", _positive
    ),
    "retry_max": Key((int, float), 21600.0, "longest wait between two retries, seconds", _positive),
    "retry_hours": Key(
        (int, float), 72.0, "hours after sending starts when deferred addresses fail", _positive
    ),
    "retry_wait": Key(
        (int, float),
        60.0,
        "seconds a run waits for retries or a quota before leaving them",
        _not_negative,
    ),
    "dkim_key": Key(str, "", "PEM private key to DKIM-sign with, relative to feeds.yaml"),
    "dkim_selector": Key(str, "", "DKIM selector: the key is at <selector>._domainkey.<domain>"),
    "dkim_domain": Key(str, "", "DKIM d= domain (default: the sender's domain)"),
    "return_path": Key(str, "", "envelope sender that receives bounces (default: the sender)"),
    "unsubscribe_to": Key(str, "", "address of the List-Unsubscribe mailto (default: the sender)"),
}
TOP_KEYS: dict[str, Key] = {
    "newsletter": Key(dict, doc="the newsletter's identity"),
    "sources": Key(list, doc="feeds and folders to read"),
    "themes": Key(list, [], "the sections of an issue"),
    "fetch": Key(dict, {}, "network limits"),
    "select": Key(dict, {}, "how duplicates and dates are judged"),
    "schedule": Key(dict, {}, "when `digest run` sends, and whether staff approve first"),
    "issue": Key(dict, {}, "sections, caps and per-issue overrides"),
    "site": Key(dict, {}, "the subscription site (`digest serve`)"),
    "delivery": Key(dict, {}, "sending: connections, rate, retries, DKIM"),
    "store": Key(str, "digest.db", "the SQLite file"),
    "templates": Key(str, None, "a folder whose templates override the defaults file by file"),
}


@dataclass(frozen=True)
class NewsletterConfig:
    title: str
    language: str
    timezone: str
    base_url: str
    sender: str
    subscribe_url: str
    logo: str = ""
    utm: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SourceConfig:
    name: str
    url: str | None = None
    path: Path | None = None
    theme: str | None = None
    categories: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    snapshot: Path | None = None

    @property
    def is_feed_file(self) -> bool:
        return self.path is not None and self.path.is_file()


@dataclass(frozen=True)
class ThemeConfig:
    id: str
    title: str
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchConfig:
    concurrency: int = 10
    deadline: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 3
    user_agent: str = ""


@dataclass(frozen=True)
class SelectConfig:
    title_similarity: float = 0.85
    future_tolerance: float = 2.0


@dataclass(frozen=True)
class IssueConfig:
    fallback_title: str = ""
    max_per_section: int = 8
    max_items: int = 40
    overrides: Path | None = None
    featured_title: str = ""
    agenda_title: str = ""


@dataclass(frozen=True)
class SiteConfig:
    rate_limit: bool = True
    per_ip: int = 10
    per_address: int = 3
    window: float = 3600.0
    confirm_days: int = 7


@dataclass(frozen=True)
class ScheduleConfig:
    weekday: str = "monday"
    hour: int = 9
    approval: str = "required"
    min_items: int = 3
    deadline_hours: float = 48.0

    @property
    def weekday_number(self) -> int:
        return WEEKDAYS.index(self.weekday)


@dataclass(frozen=True)
class DeliveryConfig:
    connections: int = 4
    batch: int = 100
    rate: float = 0.0
    per_minute: int = 0
    per_hour: int = 0
    retry_base: float = 300.0
    retry_max: float = 21600.0
    retry_hours: float = 72.0
    retry_wait: float = 60.0
    dkim_key: Path | None = None
    dkim_selector: str = ""
    dkim_domain: str = ""
    return_path: str = ""
    unsubscribe_to: str = ""


@dataclass(frozen=True)
class Config:
    path: Path
    newsletter: NewsletterConfig
    sources: tuple[SourceConfig, ...]
    themes: tuple[ThemeConfig, ...]
    fetch: FetchConfig
    store: Path
    templates: Path | None
    select: SelectConfig = field(default_factory=SelectConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    issue: IssueConfig = field(default_factory=IssueConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)

    @property
    def folder(self) -> Path:
        return self.path.parent


def default_config_path() -> Path:
    """--config defaults to $DIGEST_CONFIG, then ./feeds.yaml."""
    return Path(os.environ.get("DIGEST_CONFIG") or "feeds.yaml")


def load_config(path: Path) -> Config:
    """Read and check `path`; raise one ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [f"cannot read {path}: {exc.strerror or exc}"],
            hint="pass --config PATH or set DIGEST_CONFIG",
        ) from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Check the YAML `text` (read from `path`) and build the Config."""
    checker = _ConfigChecker(path)
    try:
        node, data = load_yaml(text)
    except TooLarge as exc:
        raise ConfigError([f"{path.name}: refused: {exc}"], path=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{path.name}{line}: not valid YAML: {exc}"], path=str(path)) from exc
    if node is not None:
        checker.index(node, ())
    return checker.build(data if data is not None else {})


class _ConfigChecker(Checker):
    """Checks feeds.yaml against the key tables and builds the Config."""

    def build(self, data: Any) -> Config:
        top = self.section(data, TOP_KEYS, ())
        newsletter = self.section(top["newsletter"] or {}, NEWSLETTER_KEYS, ("newsletter",))
        themes = [self.theme(t, ("themes", i)) for i, t in enumerate(top["themes"] or [])]
        theme_ids = {t.id for t in themes}
        self.unique([t.id for t in themes], "themes", "id")
        sources = [
            self.source(s, ("sources", i), theme_ids) for i, s in enumerate(top["sources"] or [])
        ]
        self.unique([s.name for s in sources], "sources", "name")
        if top["sources"] is not None and not sources and not self.problems:
            self.problem(("sources",), "no source: add a feed `url:` or a folder `path:`")
        fetch = FetchConfig(**self.section(top["fetch"], FETCH_KEYS, ("fetch",)))
        select = SelectConfig(**self.section(top["select"], SELECT_KEYS, ("select",)))
        schedule = ScheduleConfig(**self.section(top["schedule"], SCHEDULE_KEYS, ("schedule",)))
        issue = self.section(top["issue"], ISSUE_KEYS, ("issue",))
        issue["overrides"] = self.resolve(issue["overrides"]) if issue["overrides"] else None
        site = SiteConfig(**self.section(top["site"], SITE_KEYS, ("site",)))
        delivery = self.delivery(top["delivery"])
        if self.problems:
            raise ConfigError(
                self.problems, hint="fix these in " + str(self.path), path=str(self.path)
            )
        newsletter["subscribe_url"] = (
            newsletter["subscribe_url"] or newsletter["base_url"].rstrip("/") + "/"
        )
        return Config(
            path=self.path,
            newsletter=NewsletterConfig(**newsletter),
            sources=tuple(sources),
            themes=tuple(themes),
            fetch=fetch,
            store=self.resolve(top["store"]),
            templates=self.resolve(top["templates"]) if top["templates"] else None,
            select=select,
            schedule=schedule,
            issue=IssueConfig(**issue),
            site=site,
            delivery=delivery,
        )

    def delivery(self, data: Any) -> DeliveryConfig:
        values = self.section(data, DELIVERY_KEYS, ("delivery",))
        if bool(values["dkim_key"]) != bool(values["dkim_selector"]):
            self.problem(("delivery",), "give both `dkim_key:` and `dkim_selector:`, or neither")
        key = self.resolve(values["dkim_key"]) if values["dkim_key"] else None
        if key is not None and not key.is_file():
            self.problem(("delivery", "dkim_key"), f"{key} does not exist")
        return DeliveryConfig(**{**values, "dkim_key": key})

    def theme(self, data: Any, at: tuple[str | int, ...]) -> ThemeConfig:
        values = self.section(data, THEME_KEYS, at)
        for name in ("keywords", "categories"):
            self.strings(values[name], (*at, name))
        return ThemeConfig(
            id=values["id"] or "",
            title=values["title"] or "",
            keywords=tuple(map(str, values["keywords"] or ())),
            categories=tuple(map(str, values["categories"] or ())),
        )

    def source(self, data: Any, at: tuple[str | int, ...], theme_ids: set[str]) -> SourceConfig:
        values = self.section(data, SOURCE_KEYS, at)
        if (values["url"] is None) == (values["path"] is None):
            self.problem(at, "give exactly one of `url:` (a feed) or `path:` (a folder or file)")
        path = self.resolve(values["path"]) if values["path"] else None
        if path is not None and not path.exists():
            self.problem((*at, "path"), f"{path} does not exist")
        snapshot = self.snapshot(values, at)
        self.theme_ref(values["theme"], (*at, "theme"), theme_ids)
        categories = values["categories"] or {}
        for category, theme in categories.items():
            self.theme_ref(theme, (*at, "categories", str(category)), theme_ids)
        return SourceConfig(
            name=values["name"] or "",
            url=values["url"],
            path=path,
            theme=values["theme"],
            categories={str(k): str(v) for k, v in categories.items()},
            enabled=values["enabled"],
            snapshot=snapshot,
        )

    def snapshot(self, values: dict[str, Any], at: tuple[str | int, ...]) -> Path | None:
        """The feed file standing in for a `url:` offline; checked now, so a demo cannot
        find out on the day that its copy was moved."""
        if values["snapshot"] is None:
            return None
        where = (*at, "snapshot")
        if values["url"] is None:
            self.problem(where, "only for a feed given by `url:` (it is a copy of that feed)")
        path = self.resolve(values["snapshot"])
        if not path.exists():
            self.problem(where, f"{path} does not exist")
        elif not path.is_file():
            self.problem(where, f"{path} is not a file (a feed saved on disk)")
        return path

    def theme_ref(self, theme: Any, at: tuple[str | int, ...], theme_ids: set[str]) -> None:
        if theme is None or (isinstance(theme, str) and theme in theme_ids):
            return
        if not isinstance(theme, str):  # a list or mapping: not hashable, not worth quoting
            self.problem(at, f"expected a theme id, got {kind_name(theme)}")
            return
        hint = did_you_mean(theme, sorted(theme_ids))
        self.problem(at, f"unknown theme {quoted(theme)}{hint}")
