"""The Issue turned into what templates print: words, dates, typography, links, all ready.

Templates stay simple and safe to edit: every string here is plain text (autoescaped by
Jinja) except the `*_html` fields, which are sanitized HTML with typography on text nodes.
Content strings are neutralised so that they cannot fake a per-subscriber placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from email.utils import parseaddr
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from ..chars import remove_control_chars
from ..config import Config
from ..i18n import Messages, is_plural, messages, say
from ..models import Issue, Item, Section
from ..text import sanitize_html, sanitized_links
from ..urls import http_url
from .dates import day_label, event_label, issue_year, other_year, period_label
from .placeholders import neutral_text, neutral_url
from .typography import is_french, typo_html, typo_text

EMAIL_SUMMARY_WORDS = 45  # summaries in the email: compact, the link has the rest
PREHEADER_CHARS = 140
SUBJECT_CHARS = 60  # what a phone shows of a subject, before the newsletter's name
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAILTO = re.compile(r"mailto:[^\s<>\"'\\%]+@[^\s<>\"'\\%]+")

# A piece of a summary: its text, and the http(s) URL it links to (None: plain text).
Run = tuple[str, str | None]
_PARAGRAPHS = re.compile(r"\n\s*\n")
_RUNS_OF_SPACES = re.compile(r"  +")


@dataclass(frozen=True)
class ItemView:
    title: str
    url: str | None  # the item's link as published (web page)
    email_url: str | None  # the same, UTM-tagged when `newsletter.utm` is on
    source: str
    date: str  # "jeudi 11 mai", or "" when the item has no date
    summary: str  # the whole plain-text summary
    summary_runs: tuple[Run, ...]  # the same text, with its links (email_url's tagging)
    web_runs: tuple[Run, ...]  # the same, links as published (web page)
    image: str | None
    image_alt: str  # the feed's own alt text, or "" (a decorative picture by its title)
    anchor: str  # the item's id on the web page
    author: str
    event: str  # agenda only: "mardi 23 mai, 14 h 30"
    place: str


@dataclass(frozen=True)
class SectionView:
    theme: str
    title: str
    items: tuple[ItemView, ...]

    @property
    def runs(self) -> tuple[tuple[ItemView, ...], ...]:
        """The items for layout: one with an image stands alone (two columns), the others
        are grouped in runs (one MJML section each keeps the email small)."""
        runs: list[list[ItemView]] = []
        for item in self.items:
            if item.image or not runs or runs[-1][-1].image:
                runs.append([item])
            else:
                runs[-1].append(item)
        return tuple(map(tuple, runs))


@dataclass(frozen=True)
class IssueView:
    id: str
    lang: str
    title: str
    subject: str
    preheader: str
    period: str  # "Semaine du 8 au 14 mai 2023"
    edito_html: str
    edito_paragraphs: tuple[str, ...]  # the edito as plain-text paragraphs
    featured: SectionView | None
    sections: tuple[SectionView, ...]
    agenda: SectionView | None
    logo: str
    logo_alt: str
    subscribe_url: str
    archive_url: str  # the list of past issues on `digest serve` (web page only)
    home_url: str  # the site's home page (web page only: its navigation)
    subscribe_action: str  # where the web page's subscribe form posts (`digest serve`)
    sender_name: str
    sender_address: str
    postal_address: str  # newsletter.address: who sends it, and where (the footer)
    links: tuple[tuple[str, str], ...]  # newsletter.links: (label, URL) for the footer
    summary_words: int  # how many words of each summary the email shows
    trimmed: int  # items left out of the email to keep it under the size limit
    trimmed_note: str


def _text(value: str, lang: str | None) -> str:
    """Plain content text as shown: one line, no controls, no placeholder, and French
    spaces when `lang`, the language of the text, is French."""
    # Sources already removed control characters; isprintable() is the fast check, and
    # only text it doubts (it also rejects no-break spaces) takes the slow careful path.
    if not value.isprintable():
        value = _RUNS_OF_SPACES.sub(" ", remove_control_chars(value))
    clean = neutral_text(value.strip())
    return typo_text(clean) if is_french(lang) else clean


def _attribute(text: str) -> str:
    """Text for an HTML attribute: plain spaces for the no-break ones French typography
    puts in titles. MRML would write them as a Rust escape (`\\u{a0}`); render.email's
    mrml_proof now guards every attribute against that, but an alt text needs no
    unbreakable spaces, and plain ones keep the email's HTML readable."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _link(url: str | None) -> str | None:
    """An http(s) URL as digest.text.http_url writes it (ASCII but for readable hosts, no
    credentials), made placeholder-proof, or None. Sources already did so; doing it again
    here keeps a `javascript:` link or a backslash (which MRML would double) out even if a
    stage upstream slips, and covers the config's logo and subscribe URLs."""
    checked = http_url(url)
    return neutral_url(checked) if checked else None


def _shorten(text: str, limit: int) -> str:
    """`text` in `limit` characters at most, cut after a word with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if text[limit - 1] != " ":  # the cut falls inside a word: drop that word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(",;:–—-\u00a0\u202f ") + "…"


def tag_url(url: str, campaign: str, content: str) -> str:
    """`url` with utm_* parameters (any it had are replaced), for the partner's statistics."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if not k.lower().startswith("utm_")]
    query += [
        ("utm_source", "newsletter"),
        ("utm_medium", "email"),
        ("utm_campaign", campaign),
        ("utm_content", content),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Builder:
    """Builds the views of one issue with one config (language, timezone, UTM)."""

    def __init__(self, issue: Issue, config: Config) -> None:
        self.issue = issue
        self.config = config
        self.lang = config.newsletter.language
        self.words: Messages = messages(self.lang, config.templates)
        self.tz: ZoneInfo = config.newsletter.tz
        self.year = issue_year(issue.period, self.tz)
        base = config.newsletter.base_url.rstrip("/")
        # The issue's web page, as delivery's view_url writes it (the anchor of a recap
        # with no link of its own is on it).
        self.issue_url = _link(f"{base}/archives/{issue.id}/") or ""

    def tagged(self, url: str | None, theme: str) -> str | None:
        """`url` as the email links it: UTM-tagged when `newsletter.utm` is on."""
        return tag_url(url, self.issue.id, theme) if url and self.config.newsletter.utm else url

    def runs(
        self, summary: str, summary_html: str, theme: str | None, lang: str
    ) -> tuple[Run, ...]:
        """`summary` cut into runs at its links' texts, found in order (a link whose text
        the summary no longer has, cut by `summarize`, is left out). `theme`: tag for the
        email; None: the links as published. `lang`: the summary's, for its typography."""
        runs: list[Run] = []
        start = 0
        for text, href in sanitized_links(summary_html):
            needle, url = _text(text, lang), _link(href)
            at = summary.find(needle, start) if needle and url else -1
            if at < 0:
                continue
            runs += [(summary[start:at], None)] if at > start else []
            runs.append((needle, self.tagged(url, theme) if theme is not None else url))
            start = at + len(needle)
        runs += [(summary[start:], None)] if start < len(summary) else []
        return tuple(runs)

    def item(self, item: Item, theme: str) -> ItemView:
        url = _link(item.url)
        anchor = "item-" + _ANCHOR_UNSAFE.sub("-", item.key)
        # A recap with no link of its own leads to its place on the issue's web page.
        tagged = self.tagged(url, theme) if url else f"{self.issue_url}#{anchor}"
        # The item's own language, else (undeclared and too short to guess) the newsletter's.
        lang = item.language or self.lang
        title = _text(item.title, lang)
        summary = _text(item.summary_text, lang)
        web_runs = self.runs(summary, item.summary_html, None, lang)
        utm = self.config.newsletter.utm
        when = item.published
        return ItemView(
            title=title,
            url=url,
            email_url=tagged,
            source=_text(item.source, self.lang),
            date=day_label(when, self.tz, self.words, year=other_year(when, self.tz, self.year))
            if when
            else "",
            summary=summary,
            summary_runs=self.runs(summary, item.summary_html, theme, lang) if utm else web_runs,
            web_runs=web_runs,
            image=_link(item.image),
            image_alt=_attribute(_text(item.image_alt, lang)),
            anchor=anchor,
            author=_text(item.author or "", lang),
            event=event_label(item.event_date, self.tz, self.words, self.year)
            if item.event_date
            else "",
            place=_text(item.place or "", lang),
        )

    def section(self, section: Section | None, default_title: str = "") -> SectionView | None:
        if section is None or not section.items:
            return None
        items = tuple(self.item(item, section.theme) for item in section.items)
        title = _text(section.title or default_title, self.lang)
        return SectionView(theme=section.theme, title=title, items=items)

    def preheader(self, sections: tuple[SectionView, ...], period: str) -> str:
        """What an inbox shows after the subject: the edito's opening, else the first
        titles, else (an empty issue) the dates."""
        text = _text(" ".join(self.issue.preheader.split()), self.lang)
        text = text or _text(self.issue.edito_text, self.lang)
        if not text:
            text = " · ".join(item.title for section in sections for item in section.items[:1])
        text = text or period
        return _shorten(text, PREHEADER_CHARS)

    def edito(self) -> tuple[str, tuple[str, ...]]:
        """The edito as HTML and as plain-text paragraphs."""
        # The overrides file's edito was sanitized when read; sanitizing again is cheap and
        # makes this stage safe on its own.
        raw = self.issue.edito_html
        edito = neutral_text(sanitize_html(raw)) if raw else ""
        paragraphs = _PARAGRAPHS.split(self.issue.edito_text)
        return (
            typo_html(edito) if is_french(self.lang) else edito,
            tuple(_text(p, self.lang) for p in paragraphs if p.strip()),
        )

    def subject(self, title: str, period: str, everything: tuple[SectionView, ...]) -> str:
        """The overrides file's subject; else the lead story's title and how many items
        follow, in about SUBJECT_CHARS, then the newsletter's name; else (no item) the
        name and the dates."""
        if self.issue.subject:
            return _text(" ".join(self.issue.subject.split()), self.lang)
        items = [item for section in everything for item in section.items]
        if not items:
            when = period[:1].lower() + period[1:]
            return say(self.words, "email.subject", title=title, period=when)
        more = len(items) - 1
        room = SUBJECT_CHARS - len(self.subject_head("", more))
        head = self.subject_head(_shorten(items[0].title, room), more)
        return say(self.words, "email.subject_named", head=head, title=title)

    def subject_head(self, lead: str, more: int) -> str:
        """ "<lead story> and N more items", with the plural of the language."""
        if not more:
            return say(self.words, "email.subject_lead", lead=lead)
        if is_plural(self.lang, more):
            return say(self.words, "email.subject_more_many", lead=lead, count=more)
        return say(self.words, "email.subject_more_one", lead=lead, count=more)

    def links(self) -> Iterator[tuple[str, str]]:
        """The footer's (label, URL): http(s), or a plain mailto: address."""
        for link in self.config.newsletter.links:
            url = _link(link.url) or (link.url if _MAILTO.fullmatch(link.url) else None)
            if url:
                yield _text(link.label, self.lang), url

    def build(self) -> IssueView:
        newsletter = self.config.newsletter
        featured = self.section(self.issue.featured, say(self.words, "email.featured"))
        agenda = self.section(self.issue.agenda, say(self.words, "email.agenda"))
        sections = tuple(s for s in map(self.section, self.issue.sections) if s is not None)
        everything = tuple(s for s in (featured, *sections, agenda) if s is not None)
        title = _text(newsletter.title, self.lang)
        period = period_label(self.issue.period, self.tz, self.words)
        edito_html, edito_paragraphs = self.edito()
        name, address = parseaddr(newsletter.sender)
        return IssueView(
            id=self.issue.id,
            lang=self.lang,
            title=title,
            subject=self.subject(title, period, everything),
            preheader=self.preheader(everything, period),
            period=period,
            edito_html=edito_html,
            edito_paragraphs=edito_paragraphs,
            featured=featured,
            sections=sections,
            agenda=agenda,
            logo=_link(newsletter.logo) or "",
            logo_alt=_attribute(say(self.words, "email.logo_alt", title=title)),
            subscribe_url=_link(newsletter.subscribe_url) or _link(newsletter.base_url) or "",
            archive_url=_link(newsletter.base_url.rstrip("/") + "/archives/") or "",
            home_url=_link(newsletter.base_url.rstrip("/") + "/") or "",
            subscribe_action=_subscribe_action(newsletter.base_url, newsletter.subscribe_url),
            sender_name=_text(name or newsletter.title, self.lang),
            sender_address=neutral_text(address),
            postal_address=_text(" ".join(newsletter.address.split()), self.lang),
            links=tuple(self.links()),
            summary_words=EMAIL_SUMMARY_WORDS,
            trimmed=0,
            trimmed_note="",
        )


def _subscribe_action(base_url: str, subscribe_url: str) -> str:
    """Where the web page's form posts: the site's /subscribe, unless staff point readers
    to a subscribe page of their own (then the web page links to it instead)."""
    base = base_url.rstrip("/")
    if subscribe_url.rstrip("/") not in ("", base):
        return ""
    return _link(base + "/subscribe") or ""


def build_view(issue: Issue, config: Config) -> IssueView:
    """Everything the templates need, computed once per render."""
    return _Builder(issue, config).build()


class IssueViews:
    """The view of an issue, and of its cuts (render/cuts.py): its items are turned into
    views once, however many cuts are rendered (that was most of a cut's cost)."""

    def __init__(self, issue: Issue, config: Config) -> None:
        self._builder = _Builder(issue, config)
        self.whole = self._builder.build()

    def cut(self, kept: Collection[str]) -> IssueView:
        """The view with only the sections in `kept`; the subject and preheader computed
        for what is left (the overrides file's, if any, stay)."""
        whole, builder = self.whole, self._builder
        sections = tuple(s for s in whole.sections if s.theme in kept)
        everything = tuple(s for s in (whole.featured, *sections, whole.agenda) if s is not None)
        return replace(
            whole,
            sections=sections,
            subject=builder.subject(whole.title, whole.period, everything),
            preheader=builder.preheader(everything, whole.period),
        )
