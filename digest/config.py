"""The one config model: reads feeds.yaml, checks all of it, and returns a frozen Config.

Every problem is collected before anything is raised, each with its location
(`feeds.yaml:12: sources[3].url: not an http(s) URL`), so a person fixes the file in one go.
Each key is declared once, on the dataclass field that holds it (`setting(default, doc)`);
the tables `NEWSLETTER_KEYS`, `SOURCE_KEYS`, ... derived from the dataclasses drive
validation and the configuration reference (docs/configuration.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from . import chars
from .checking import (
    Check,
    Checker,
    TooLarge,
    config_error,
    keys_of,
    kind_name,
    load_yaml,
    required,
    setting,
    subsection,
    unknown_theme,
)
from .errors import quoted
from .i18n import t


def _http(value: Any) -> str | None:
    ok = isinstance(value, str) and re.match(r"^https?://[^/\s]+", value)
    return None if ok else t("config.not_http")


def _http_or_empty(value: Any) -> str | None:
    return None if value == "" else _http(value)


def _link(value: Any) -> str | None:
    ok = isinstance(value, str) and re.match(r"^(?:https?://[^/\s]+|mailto:[^@\s]+@\S+)", value)
    return None if ok else t("config.not_link")


def _timezone(value: Any) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
        return t("config.unknown_timezone", value=quoted(value))
    return None


def _one_of(*choices: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in choices else t("config.one_of", choices=", ".join(choices))

    return check


def _positive(value: Any) -> str | None:
    return None if value > 0 else t("config.positive")


def _not_negative(value: Any) -> str | None:
    return None if value >= 0 else t("config.not_negative")


def _fraction(value: Any) -> str | None:
    return None if 0 < value <= 1 else t("config.fraction")


def _hour(value: Any) -> str | None:
    return None if 0 <= value <= 23 else t("config.hour")


def _identifier(value: Any) -> str | None:
    ok = re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value)
    return None if ok else t("config.identifier")


@dataclass(frozen=True)
class LinkConfig:
    label: str = field(metadata=required(str, 'the link\'s text: "LinkedIn", "Nous écrire"'))
    url: str = field(metadata=required(str, "where it leads: an http(s) or mailto: URL", _link))


@dataclass(frozen=True)
class NewsletterConfig:
    title: str = field(metadata=required(str, "shown in the email and the subject"))
    language: str = setting("fr", "fr or en: wording and dates", check=_one_of("fr", "en"))
    timezone: str = setting("Europe/Paris", "the issue's weeks and dates", check=_timezone)
    base_url: str = setting("http://localhost:8000", "where `digest serve` is reached", check=_http)
    sender: str = setting("", 'From: of every email, e.g. "Lettre <lettre@example.org>"')
    # Parsing fills it in from base_url when it is empty.
    subscribe_url: str = setting("", "the 'S'inscrire' link (default: base_url + '/')")
    logo: str = setting("", "URL of a logo shown in the email header (optional)")
    privacy_url: str = setting(
        "",
        "URL of the privacy notice linked next to the subscribe form (optional)",
        check=_http_or_empty,
    )
    utm: bool = setting(False, "tag outgoing links with utm_source/medium/campaign/content")
    address: str = setting(
        "", "who sends it, with a postal address: shown in every email footer (the law asks it)"
    )
    links: tuple[LinkConfig, ...] = setting(
        (), "social and contact links shown in the email footer (`label`, `url` each)"
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SourceConfig:
    name: str = field(metadata=required(str, "shown as the item's source"))
    url: str | None = setting(None, "an RSS or Atom feed", kind=str, check=_http)
    path: Path | None = setting(
        None, "a folder of Markdown recaps, or a feed file on disk", kind=str
    )
    snapshot: Path | None = setting(
        None,
        "a copy of this feed on disk: when the store holds no cached copy, `--offline` reads"
        " it (demos, tests, a partner down during a demo); an online build ignores it",
        kind=str,
    )
    theme: str | None = setting(None, "default theme id for this source's items", kind=str)
    categories: dict[str, str] = setting({}, "this feed's categories mapped to theme ids")
    enabled: bool = setting(True, "false skips the source")

    @property
    def is_feed_file(self) -> bool:
        return self.path is not None and self.path.is_file()


@dataclass(frozen=True)
class ThemeConfig:
    id: str = field(
        metadata=required(str, "stable identifier, used in overrides and digest.json", _identifier)
    )
    title: str = field(metadata=required(str, "section title"))
    keywords: tuple[str, ...] = setting((), "words or phrases that put an item in this section")
    categories: tuple[str, ...] = setting((), "feed categories that put an item in this section")


@dataclass(frozen=True)
class FetchConfig:
    concurrency: int = setting(
        50, "feeds fetched at once, all hosts together (at most 64)", check=_positive
    )
    per_host: int = setting(4, "feeds fetched at once from one host (politeness)", check=_positive)
    deadline: float = setting(20.0, "seconds a whole feed fetch may take", check=_positive)
    max_bytes: int = setting(5_000_000, "decoded bytes a feed may have", check=_positive)
    max_redirects: int = setting(3, "redirects followed")
    user_agent: str = setting("", "User-Agent header (default names digest and its version)")


@dataclass(frozen=True)
class SelectConfig:
    title_similarity: float = setting(
        0.85, "0-1: titles at least this alike are the same news", check=_fraction
    )
    future_tolerance: float = setting(
        2.0, "hours a date may be ahead of now before it is not trusted"
    )


@dataclass(frozen=True)
class IssueConfig:
    fallback_title: str = setting(
        "", "section of items no theme claims (default: Autres actualités)"
    )
    max_per_section: int = setting(8, "items shown per section at most", check=_positive)
    max_items: int = setting(40, "items in one issue at most", check=_positive)
    # Relative to feeds.yaml until parsed; None (given as "") reads no overrides.
    overrides: Path | None = setting(Path("content/issues"), "folder of per-issue override files")
    featured_title: str = setting("", "section of pinned items (default: À la une / Featured)")
    agenda_title: str = setting("", "section of upcoming events (default: Agenda)")


@dataclass(frozen=True)
class SiteConfig:
    rate_limit: bool = setting(True, "limit subscribe requests per IP and per address")
    per_ip: int = setting(10, "subscribe requests one IP may make per window", check=_positive)
    per_address: int = setting(
        3, "confirmation emails one address may get per window", check=_positive
    )
    window: float = setting(3600.0, "seconds of the rate-limit window", check=_positive)
    confirm_days: int = setting(7, "days a confirmation link stays valid", check=_positive)
    preferences_days: int = setting(
        180,
        "days the preferences link of an email stays valid after it was sent",
        check=_positive,
    )


@dataclass(frozen=True)
class ConsoleConfig:
    idle_minutes: float = setting(
        30.0, "minutes without a request after which a staff session ends", check=_positive
    )
    lifetime_hours: float = setting(
        12.0, "hours after sign-in at which a staff session ends, used or not", check=_positive
    )
    failures_per_account: int = setting(
        5, "failed sign-ins one address may have per window, then it waits", check=_positive
    )
    failures_per_ip: int = setting(
        20, "failed sign-ins one IP may make per window, then it waits", check=_positive
    )
    failure_window: float = setting(
        900.0, "seconds over which failed sign-ins are counted", check=_positive
    )
    min_password: int = setting(12, "characters a staff password has at least", check=_positive)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class ScheduleConfig:
    weekday: str = setting(
        "monday", "day the issue of the past week goes out", check=_one_of(*WEEKDAYS)
    )
    hour: int = setting(9, "local hour (0-23) from which it goes out", check=_hour)
    approval: str = setting(
        "required",
        "required: staff run `digest approve`; auto: sent at once",
        check=_one_of("required", "auto"),
    )
    min_items: int = setting(3, "an issue with fewer items is not sent (and says so)")
    deadline_hours: float = setting(
        48.0, "hours after the slot past which it is not sent", check=_positive
    )

    @property
    def weekday_number(self) -> int:
        return WEEKDAYS.index(self.weekday)


@dataclass(frozen=True)
class DeliveryConfig:
    connections: int = setting(4, "SMTP connections used in parallel", check=_positive)
    batch: int = setting(
        100,
        "messages marked 'sending' per commit (each result is written as it comes)",
        check=_positive,
    )
    rate: float = setting(0.0, "messages per second at most (0: no limit)", check=_not_negative)
    per_minute: int = setting(0, "messages per minute at most (0: no limit)", check=_not_negative)
    per_hour: int = setting(0, "messages per hour at most (0: no limit)", check=_not_negative)
    retry_base: float = setting(
        300.0, "seconds before retrying a 4xx; doubles each attempt", check=_positive
    )
    retry_max: float = setting(
        21600.0, "longest wait between two retries, seconds", check=_positive
    )
    retry_hours: float = setting(
        72.0, "hours after sending starts when deferred addresses fail", check=_positive
    )
    retry_wait: float = setting(
        60.0,
        "seconds a run waits for retries or a quota before leaving them",
        check=_not_negative,
    )
    dkim_key: Path | None = setting(
        None, "PEM private key to DKIM-sign with, relative to feeds.yaml", kind=str
    )
    dkim_selector: str = setting("", "DKIM selector: the key is at <selector>._domainkey.<domain>")
    dkim_domain: str = setting("", "DKIM d= domain (default: the sender's domain)")
    return_path: str = setting("", "envelope sender that receives bounces (default: the sender)")
    unsubscribe_to: str = setting(
        "", "address of the List-Unsubscribe mailto (default: the sender)"
    )


@dataclass(frozen=True)
class Config:
    path: Path  # the feeds.yaml read: not a key
    newsletter: NewsletterConfig = field(metadata=required(dict, "the newsletter's identity"))
    sources: tuple[SourceConfig, ...] = field(metadata=required(list, "feeds and folders to read"))
    themes: tuple[ThemeConfig, ...] = setting((), "the sections of an issue")
    fetch: FetchConfig = subsection(FetchConfig, "network limits")
    select: SelectConfig = subsection(SelectConfig, "how duplicates and dates are judged")
    schedule: ScheduleConfig = subsection(
        ScheduleConfig, "when `digest run` sends, and whether staff approve first"
    )
    issue: IssueConfig = subsection(IssueConfig, "sections, caps and per-issue overrides")
    site: SiteConfig = subsection(SiteConfig, "the subscription site (`digest serve`)")
    console: ConsoleConfig = subsection(
        ConsoleConfig, "the staff console (`/admin/`): sessions, sign-in limits"
    )
    delivery: DeliveryConfig = subsection(
        DeliveryConfig, "sending: connections, rate, retries, DKIM"
    )
    # Paths are relative to feeds.yaml until parsed, as is issue.overrides.
    store: Path = setting(Path("digest.db"), "the SQLite file")
    templates: Path | None = setting(
        None, "a folder whose templates override the defaults file by file", kind=str
    )

    @property
    def folder(self) -> Path:
        return self.path.parent


# The key tables, in the order of the configuration reference (after TOP and NEWSLETTER).
NEWSLETTER_KEYS = keys_of(NewsletterConfig)
LINK_KEYS = keys_of(LinkConfig)
SOURCE_KEYS = keys_of(SourceConfig)
THEME_KEYS = keys_of(ThemeConfig)
FETCH_KEYS = keys_of(FetchConfig)
SELECT_KEYS = keys_of(SelectConfig)
ISSUE_KEYS = keys_of(IssueConfig)
SITE_KEYS = keys_of(SiteConfig)
CONSOLE_KEYS = keys_of(ConsoleConfig)
SCHEDULE_KEYS = keys_of(ScheduleConfig)
DELIVERY_KEYS = keys_of(DeliveryConfig)
TOP_KEYS = keys_of(Config)


def default_config_path() -> Path:
    """--config defaults to $DIGEST_CONFIG, then ./feeds.yaml."""
    return Path(os.environ.get("DIGEST_CONFIG") or "feeds.yaml")


def load_config(path: Path) -> Config:
    """Read and check `path`; raise one ConfigError listing every problem (a file that is
    not UTF-8 is one, saying on which line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise config_error(
            [t("error.cannot_read", path=path, error=exc.strerror or exc)],
            hint=t("config.cannot_read_hint"),
        ) from exc
    try:
        text = chars.decode(raw)
    except chars.NotUtf8 as exc:
        raise config_error(
            [f"{path.name}:{exc.line}: {exc.detail}"], hint=chars.save_as_utf8(), path=str(path)
        ) from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Check the YAML `text` (read from `path`) and build the Config."""
    checker = _ConfigChecker(path)
    try:
        node, data = load_yaml(text)
    except TooLarge as exc:
        refused = t("config.refused", reason=exc)
        raise config_error([f"{path.name}: {refused}"], path=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        invalid = t("config.not_yaml", error=exc)
        raise config_error([f"{path.name}{line}: {invalid}"], path=str(path)) from exc
    if node is not None:
        checker.index(node, ())
    return checker.build(data if data is not None else {})


class _ConfigChecker(Checker):
    """Checks feeds.yaml against the key tables and builds the Config."""

    def build(self, data: Any) -> Config:
        top = self.section(data, TOP_KEYS, ())
        newsletter = self.section(top["newsletter"] or {}, NEWSLETTER_KEYS, ("newsletter",))
        newsletter["links"] = self.links(newsletter["links"])
        themes = [self.theme(t, ("themes", i)) for i, t in enumerate(top["themes"] or [])]
        theme_ids = {t.id for t in themes}
        self.unique([t.id for t in themes], "themes", "id")
        sources = [
            self.source(s, ("sources", i), theme_ids) for i, s in enumerate(top["sources"] or [])
        ]
        self.unique([s.name for s in sources], "sources", "name")
        if top["sources"] is not None and not sources and not self.problems:
            self.problem(("sources",), t("config.no_source"))
        fetch = FetchConfig(**self.section(top["fetch"], FETCH_KEYS, ("fetch",)))
        select = SelectConfig(**self.section(top["select"], SELECT_KEYS, ("select",)))
        schedule = ScheduleConfig(**self.section(top["schedule"], SCHEDULE_KEYS, ("schedule",)))
        issue = self.section(top["issue"], ISSUE_KEYS, ("issue",))
        issue["overrides"] = self.resolve(issue["overrides"]) if issue["overrides"] else None
        site = SiteConfig(**self.section(top["site"], SITE_KEYS, ("site",)))
        console = ConsoleConfig(**self.section(top["console"], CONSOLE_KEYS, ("console",)))
        delivery = self.delivery(top["delivery"])
        if self.problems:
            raise config_error(
                self.problems, hint=t("config.fix_these", path=self.path), path=str(self.path)
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
            console=console,
            delivery=delivery,
        )

    def links(self, data: list[Any]) -> tuple[LinkConfig, ...]:
        """The footer's links; each checked where it is (newsletter.links[2].url)."""
        at: tuple[str | int, ...] = ("newsletter", "links")
        found = (self.section(link, LINK_KEYS, (*at, i)) for i, link in enumerate(data or []))
        return tuple(LinkConfig(label=str(v["label"] or ""), url=v["url"] or "") for v in found)

    def delivery(self, data: Any) -> DeliveryConfig:
        values = self.section(data, DELIVERY_KEYS, ("delivery",))
        if bool(values["dkim_key"]) != bool(values["dkim_selector"]):
            self.problem(("delivery",), t("config.dkim_pair"))
        key = self.resolve(values["dkim_key"]) if values["dkim_key"] else None
        if key is not None and not key.is_file():
            self.problem(("delivery", "dkim_key"), t("config.no_such_path", path=key))
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
            self.problem(at, t("config.url_or_path"))
        path = self.resolve(values["path"]) if values["path"] else None
        if path is not None and not path.exists():
            self.problem((*at, "path"), t("config.no_such_path", path=path))
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
            self.problem(where, t("config.snapshot_without_url"))
        path = self.resolve(values["snapshot"])
        if not path.exists():
            self.problem(where, t("config.no_such_path", path=path))
        elif not path.is_file():
            self.problem(where, t("config.snapshot_not_a_file", path=path))
        return path

    def theme_ref(self, theme: Any, at: tuple[str | int, ...], theme_ids: set[str]) -> None:
        if theme is None or (isinstance(theme, str) and theme in theme_ids):
            return
        if not isinstance(theme, str):  # a list or mapping: not hashable, not worth quoting
            self.problem(at, t("config.expected_theme", got=kind_name(theme)))
            return
        self.problem(at, unknown_theme(theme, sorted(theme_ids)))
