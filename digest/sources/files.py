"""Local-files source: a folder of Markdown recaps (the team's own articles) becomes Items.

Contract: `read_recaps(source, tz)` never raises for a bad file: it returns the good items and
names every bad file (with its line and a hint) in `SourceResult.error`. `read_recap` reads
one file into an `Item` or raises `ParseError`. Dates without a zone are local to `tz`.

Identity: a recap with `url:` is keyed by its canonical URL, so a partner relaying it (with
utm_* parameters) is the same news. Without `url:` the key comes from the GUID
`file:<folder-relative path, minus the YYYY-MM-DD- date prefix and .md>` (or `file:<id>` when
the front matter gives `id:`), so fixing the date in a file name keeps the identity; renaming
the slug, moving the file to another sub-folder or renaming the source changes it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from .. import chars
from ..config import SourceConfig
from ..errors import ParseError, quoted, shortened
from ..i18n import t
from ..identity import item_key
from ..models import Item, SourceResult, SourceStatus
from ..text import clean_title, html_to_text, summarize
from ..urls import http_url
from .language import declared_language
from .recap_text import parse_date, strip_head, summary

MAX_BYTES = 1_048_576  # a recap is a page of text; past 1 MiB it is a mistake (an embedded image)

_STR_TAG = "tag:yaml.org,2002:str"
_FILE_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[-_.]|$)")


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that front matter does not accept; `problem` says what, `note` the fix."""


class _Loader(yaml.SafeLoader):
    """SafeLoader for front matter: every value is the text typed, and no anchors or tags.

    Why text: YAML 1.1 reads `yes`, `On` and `NO` as booleans, `12:30` as 750 and dates as
    dates, so a title or a place came out "True"; no key of a recap needs a number or a
    boolean, and dates are parsed here, where a bad one is reported with its line. Why no
    aliases: front matter is a short list of values typed in full, and a few nested aliases
    (`b: [*a, *a, ...]`) stand for billions of strings as soon as a value is used.
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                problem=t("recap.aliases"),
                problem_mark=event.start_mark,
                note=t("recap.aliases_hint"),
            )
        tag = getattr(event, "tag", None)
        if tag not in (None, "!", _STR_TAG):  # `!!str` and `!` only say "text"
            shown = shortened(tag.replace("tag:yaml.org,2002:", "!!"))
            raise _Refused(
                problem=t("recap.tags", tag=shown),
                problem_mark=event.start_mark,
                note=t("recap.tags_hint"),
            )
        return super().compose_node(parent, index)


# Only an empty value, `~` and `null` mean "no value"; anything else is text.
_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


def read_recaps(source: SourceConfig, tz: ZoneInfo) -> SourceResult:
    """Every recap of the folder `source.path`; bad files are named in `error`, not raised."""
    started = time.perf_counter()
    folder = source.path
    if folder is None or not folder.exists():
        missing = t("recap.no_folder")
        return SourceResult(source.name, "error", error=f"{folder}: {missing}")
    files = [folder] if folder.is_file() else list(recap_files(folder))
    items: list[Item] = []
    problems: list[str] = []
    for path in files:
        try:
            items.append(read_recap(path, source, tz))
        except ParseError as exc:
            problems.append(f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    status: SourceStatus = "error" if files and not items else "ok"
    error = t("recap.not_read", count=len(problems), total=len(files), problems="; ".join(problems))
    elapsed = time.perf_counter() - started
    return SourceResult(
        source.name, status, tuple(items), error=error if problems else None, elapsed_s=elapsed
    )


def recap_files(folder: Path) -> Iterator[Path]:
    """`*.md` under `folder`, sorted; README.md and names starting with '_' or '.' skipped."""
    found: list[tuple[str, Path]] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        for name in names:
            if name.lower().endswith(".md") and not _skipped(name):
                path = Path(root) / name
                found.append((path.relative_to(folder).as_posix(), path))
    return (path for _, path in sorted(found))


def _skipped(name: str) -> bool:
    return name.startswith(("_", ".")) or name.lower() == "readme.md"


def read_recap(path: Path, source: SourceConfig, tz: ZoneInfo) -> Item:
    """One recap file as an Item; ParseError (naming the file and line) when it is unusable."""
    name = _display_name(path, source.path)
    if not _is_utf8(name):
        # The name arrives with the bytes it cannot decode as surrogates, which no hash,
        # JSON or terminal takes: the recap is reported (its name readable), not read.
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        raise ParseError(
            f"{shown}: the file name is not UTF-8",
            hint="rename the file (it was named on a system in another encoding, often in a"
            " zip made on Windows)",
        )
    front, body, body_line = _split_front_matter(_read_text(path, name), name)
    meta, lines = _parse_front_matter(front, name) if front is not None else ({}, {})
    recap = _Recap(name, meta, lines, tz)
    heading, line_date, body = strip_head(body, name, tz, body_line)
    url = recap.url()
    summary_html, first_image = summary(body, recap.text("summary"), url)
    title = clean_title(recap.text("title") or heading or "")
    if not title:
        no_title = t("recap.no_title")
        raise ParseError(f"{name}: {no_title}", hint=t("recap.no_title_hint"))
    published = recap.date("date") or line_date or _file_date(path, tz)
    summary_text = summarize(html_to_text(summary_html))
    guid = _guid(path, source.path, recap.text("id"))
    return Item(
        key=item_key(url, guid, source.name, title, summary_text),
        title=title,
        url=url,
        published=published,
        source=source.name,
        summary_html=summary_html,
        summary_text=summary_text,
        categories=recap.categories(),
        image=http_url(recap.text("image"), url) or first_image,
        author=_plain(recap.text("author")),
        theme=(recap.text("theme") or "").strip().lower() or None,
        event_date=recap.date("event_date"),
        place=_plain(recap.text("place")),
        date_origin="source",
        origin="file",
        guid=guid,
        language=recap.language(),
    )


# --- reading ------------------------------------------------------------------------------


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _display_name(path: Path, folder: Path | None) -> str:
    if folder is not None and folder.is_dir():
        try:
            return path.relative_to(folder).as_posix()
        except ValueError:
            pass
    return path.name


def _read_text(path: Path, name: str) -> str:
    """The file as text with LF line ends; at most MAX_BYTES, strict UTF-8 (BOM allowed)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        unreadable = t("recap.unreadable", error=exc.strerror or exc)
        raise ParseError(f"{name}: {unreadable}", hint=t("recap.unreadable_hint")) from exc
    if len(raw) > MAX_BYTES:
        too_large = t("recap.too_large", kib=MAX_BYTES // 1024)
        raise ParseError(f"{name}: {too_large}", hint=t("recap.too_large_hint"))
    try:
        text = chars.decode(raw)
    except chars.NotUtf8 as exc:
        raise ParseError(f"{name}:{exc.line}: {exc.detail}", hint=chars.save_as_utf8()) from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split_front_matter(text: str, name: str) -> tuple[str | None, str, int]:
    """(front matter or None, body, file line number of the body's first line)."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    never_closed = t("recap.front_matter_open")
    raise ParseError(f"{name}:1: {never_closed}", hint=t("recap.front_matter_open_hint"))


def _parse_front_matter(front: str, name: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The front matter's keys and values, and the file line of each key (safe YAML only)."""
    hint = t("recap.front_matter_hint")
    try:
        node, data = _load(front)
    except _Refused as exc:
        raise ParseError(f"{name}:{_line(exc)}: {exc.problem}", exc.note) from exc
    except yaml.MarkedYAMLError as exc:
        invalid = t("recap.front_matter_yaml", error=exc.problem)
        raise ParseError(f"{name}:{_line(exc)}: {invalid}", hint) from exc
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        invalid = t("recap.front_matter_yaml", error=shortened(str(exc)))
        raise ParseError(f"{name}:2: {invalid}", hint) from exc
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        not_lines = t("recap.front_matter_lines")
        raise ParseError(f"{name}:2: {not_lines}", hint)
    lines = {str(key.value): 2 + key.start_mark.line for key, _ in node.value}
    return {str(key): value for key, value in data.items()}, lines


def _load(front: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (it has the lines) and the values, from one parse with `_Loader`."""
    loader = _Loader(front)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _line(exc: yaml.MarkedYAMLError) -> int:
    """The file line of a YAML error: front matter starts on the file's line 2."""
    mark = exc.problem_mark or exc.context_mark
    return 2 + (mark.line if mark else 0)


class _Recap:
    """Typed access to front-matter values; a bad value raises ParseError at its line."""

    def __init__(self, name: str, meta: dict[str, Any], lines: dict[str, int], tz: ZoneInfo):
        self.name, self.meta, self.lines, self.tz = name, meta, lines, tz

    def fail(self, key: str, message: str, hint: str) -> ParseError:
        line = self.lines.get(key)
        return ParseError(f"{self.name}{f':{line}' if line else ''}: {key}: {message}", hint)

    def text(self, key: str) -> str | None:
        value = self.meta.get(key)
        if value is None:
            return None
        if isinstance(value, dict | list):
            raise self.fail(key, t("recap.expected_text"), t("recap.expected_text_hint", key=key))
        return str(value)

    def url(self) -> str | None:
        raw = self.text("url")
        url = http_url(raw)
        if raw and url is None:
            hint = t("recap.not_http_hint")
            raise self.fail("url", t("recap.not_http", value=quoted(raw)), hint)
        return url

    def date(self, key: str) -> datetime | None:
        value = self.meta.get(key)
        if value is None:
            return None
        parsed = parse_date(value, self.tz) if isinstance(value, str) else None
        if parsed is None:
            raise self.fail(
                key, t("recap.not_a_date", value=quoted(value)), t("recap.not_a_date_hint", key=key)
            )
        return parsed

    def language(self) -> str | None:
        """`language:` (or `lang:`), a tag such as `en` or `fr-BE`; None: not given (the
        newsletter's language is assumed: the team writes in it)."""
        for key in ("language", "lang"):
            raw = self.text(key)
            if raw:
                tag = declared_language(raw)
                if tag is None:
                    hint = t("recap.not_a_language_hint", key=key)
                    raise self.fail(key, t("recap.not_a_language", value=quoted(raw)), hint)
                return tag
        return None

    def categories(self) -> tuple[str, ...]:
        found: list[str] = []
        for key in ("tags", "categories"):
            value = self.meta.get(key) or []
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, dict | list):
                    hint = t("recap.expected_words_hint", key=key)
                    raise self.fail(key, t("recap.expected_words"), hint)
                label = clean_title(str(entry))
                if label and label not in found:
                    found.append(label)
        return tuple(found)


def _plain(value: str | None) -> str | None:
    return clean_title(value) or None if value else None


def _file_date(path: Path, tz: ZoneInfo) -> datetime | None:
    found = _FILE_DATE.match(path.name)
    if not found:
        return None
    year, month, day = map(int, found.groups())
    try:
        return datetime(year, month, day, tzinfo=tz)
    except ValueError:
        return None


def _guid(path: Path, folder: Path | None, given: str | None) -> str:
    if given and given.strip():
        return "file:" + given.strip()
    relative = Path(_display_name(path, folder))
    stem = _FILE_DATE.sub("", relative.stem) or relative.stem
    return "file:" + (relative.parent / stem).as_posix()
