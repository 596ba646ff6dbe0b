"""Per-issue overrides: the file comms staff edit to pin, exclude or move items and write the edito.

`load_overrides(config, issue_id)` reads `<issue.overrides>/<issue_id>.md` (YAML front matter,
then the edito in Markdown) or `<issue_id>.yaml` (the same keys plus `edito:`). No file means
no overrides. A bad file raises one ConfigError listing every problem as `file:line`. URLs are
canonicalised, so tracking parameters and fragments never stop a match.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import chars
from .checking import (
    Checker,
    Key,
    TooLarge,
    config_error,
    kind_name,
    load_yaml,
    unknown_theme,
)
from .config import Config
from .errors import ConfigError, quoted
from .i18n import t
from .models import AGENDA_ID, FALLBACK_ID, RECAP, RECAP_FILE_DATE
from .text import html_to_text, markdown_to_html
from .urls import canonical_url

SUFFIXES = (".md", ".yaml", ".yml")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")

OVERRIDE_KEYS: dict[str, Key] = {
    # title is checked and kept; render does not use it yet.
    "title": Key(str, "", "a title for this issue"),
    "subject": Key(str, "", "the email subject of this issue, instead of the default one"),
    "preheader": Key(str, "", "the line an inbox shows after the subject, instead of the default"),
    "pin": Key(list, [], "items (URLs, or recap file names) shown first, under « À la une »"),
    "exclude": Key(list, [], "items left out of this issue"),
    "move": Key(dict, {}, "`item: theme id`: puts an item in that section"),
    "edito": Key(str, "", "the edito in Markdown (.yaml files; in a .md file it is the body)"),
}


@dataclass(frozen=True)
class Overrides:
    """What staff decided for one issue.

    Items are named by canonical URL, or by `recap:<name>` for a recap file named in the
    overrides file (see `reference`); `themes.item_references` gives the names of an item.
    """

    edito_markdown: str = ""
    pin: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    move: dict[str, str] = field(default_factory=dict)
    title: str = ""
    subject: str = ""
    preheader: str = ""
    # The file these came from (None: no file), named in reasons and warnings.
    path: Path | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.path else t("overrides.label")

    @property
    def edito_html(self) -> str:
        """The edito through CommonMark (raw HTML off) and the same allowlist as feeds."""
        return markdown_to_html(self.edito_markdown) if self.edito_markdown else ""

    @property
    def edito_text(self) -> str:
        """The edito for the text part: one line per paragraph, links as "text (URL)"."""
        paragraphs = re.split(r"\n\s*\n", self.edito_markdown.strip())
        texts = (html_to_text(markdown_to_html(_LINK.sub(r"\1 (\2)", p))) for p in paragraphs)
        return "\n\n".join(text for text in texts if text)


def reference(value: Any) -> str | None:
    """How the overrides file names an item: a canonical URL, or `recap:<name>` for a recap
    file (`2023-05-11-journee.md`, a path is fine); None when it is neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower().startswith(("http://", "https://")):
        # With its fragment: it names one post of a linkblog's page (themes.named_item).
        return canonical_url(text, keep_fragment=True)
    if text.lower().endswith(".md") and "://" not in text:
        stem = Path(text.replace("\\", "/")).stem
        return RECAP + (RECAP_FILE_DATE.sub("", stem) or stem).lower()
    return None


def written_name(url: str | None, guid: str | None) -> str | None:
    """How the overrides file names an item: its URL, else its recap file (`name.md`)."""
    if url:
        return url
    if guid and guid.startswith("file:"):
        return guid.removeprefix("file:").rsplit("/", 1)[-1] + ".md"
    return None


def move_targets(config: Config) -> set[str]:
    """Section ids a `move:` may name: the themes, the fallback section and the agenda."""
    return {theme.id for theme in config.themes} | {FALLBACK_ID, AGENDA_ID}


def load_overrides(config: Config, issue_id: str) -> Overrides:
    """The overrides of `issue_id`, or empty ones when its file does not exist."""
    folder = config.issue.overrides
    if folder is None:
        return Overrides()
    found = [folder / f"{issue_id}{s}" for s in SUFFIXES if (folder / f"{issue_id}{s}").is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise config_error(
            [t("overrides.several", count=len(found), issue=issue_id, names=names)],
            hint=t("overrides.several_hint"),
            about=t("overrides.about_folder", folder=folder),
        )
    if not found:
        return Overrides()
    try:
        text = chars.decode(found[0].read_bytes())
    except OSError as exc:
        raise config_error(
            [t("overrides.unreadable", error=exc.strerror or exc)],
            hint=t("overrides.unreadable_hint"),
            about=_about(found[0]),
        ) from exc
    except chars.NotUtf8 as exc:
        raise config_error(
            [f"{found[0].name}:{exc.line}: {exc.detail}"],
            hint=chars.save_as_utf8(),
            about=_about(found[0]),
        ) from exc
    return parse_overrides(text, found[0], move_targets(config))


_ISSUE_FILE = re.compile(r"\d{4}-W\d{2}")


def check_all_overrides(config: Config) -> list[ConfigError]:
    """The problems of every overrides file in the folder (for `digest check`): staff edit
    next week's file before any build reads it, and want to hear of a mistake then."""
    folder = config.issue.overrides
    if folder is None or not folder.is_dir():
        return []
    issues = {p.stem for p in folder.iterdir() if p.suffix in SUFFIXES}
    errors: list[ConfigError] = []
    for issue_id in sorted(i for i in issues if _ISSUE_FILE.fullmatch(i)):
        try:
            load_overrides(config, issue_id)
        except ConfigError as exc:
            errors.append(exc)
    return errors


def _about(path: Path) -> str:
    """The heading of its errors names the overrides file, not "the configuration"."""
    return t("overrides.about_file", path=path)


def parse_overrides(text: str, path: Path, targets: Collection[str]) -> Overrides:
    """Check the overrides `text` read from `path` (a .md or .yaml file)."""
    if path.suffix == ".md":
        front, offset, body = _split_front_matter(text, path)
    else:
        front, offset, body = text, 0, ""
    # Padding with blank lines keeps YAML's line numbers those of the whole file.
    padded = "\n" * offset + front
    node, data = _load_yaml(padded, path)
    checker = Checker(path)
    if node is not None:
        checker.index(node, ())
    values = checker.section(_accept_single_urls(data), OVERRIDE_KEYS, ())
    pin = _urls(checker, values["pin"], "pin")
    exclude = _urls(checker, values["exclude"], "exclude")
    move = _moves(checker, values["move"], targets)
    moved = {url: at for url, (_, at) in move.items()}
    _no_conflicts(checker, {"pin": pin, "exclude": exclude, "move": moved})
    if body and values["edito"]:
        checker.problem(("edito",), t("overrides.edito_twice"))
    if checker.problems:
        hint = t("config.fix_these", path=path)
        raise config_error(checker.problems, hint=hint, about=_about(path))
    return Overrides(
        edito_markdown=(body or values["edito"] or "").strip(),
        pin=tuple(pin),
        exclude=tuple(exclude),
        move={url: target for url, (target, _) in move.items()},
        title=(values["title"] or "").strip(),
        subject=(values["subject"] or "").strip(),
        preheader=(values["preheader"] or "").strip(),
        path=path,
    )


def _split_front_matter(text: str, path: Path) -> tuple[str, int, str]:
    """(front matter, its first line's offset, body). No `---` first line: all of it is body."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return "", 0, text.strip()
    for number, line in enumerate(lines[1:], start=1):
        if line.strip() in ("---", "..."):
            return "".join(lines[1:number]), 1, "".join(lines[number + 1 :]).strip()
    never_closed = t("overrides.front_matter_open")
    raise config_error(
        [f"{path.name}:1: {never_closed}"],
        hint=t("config.fix_this", path=path),
        about=_about(path),
    )


def _load_yaml(text: str, path: Path) -> tuple[yaml.Node | None, Any]:
    try:
        return load_yaml(text)
    except TooLarge as exc:
        refused = t("config.refused", reason=exc)
        raise config_error(
            [f"{path.name}: {refused}"],
            hint=t("config.fix_this", path=path),
            path=str(path),
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        invalid = t("config.not_yaml", error=exc)
        raise config_error(
            [f"{path.name}{line}: {invalid}"],
            hint=t("config.fix_this", path=path),
            about=_about(path),
        ) from exc


def _accept_single_urls(data: Any) -> Any:
    """`pin: https://…` (one URL, not a list) is what people write: take it as a list of one."""
    if not isinstance(data, dict):
        return {} if data is None else data
    return {
        k: [v] if k in ("pin", "exclude") and isinstance(v, str) else v for k, v in data.items()
    }


Where = tuple[str | int, ...]


def _urls(checker: Checker, values: list[Any], name: str) -> dict[str, Where]:
    """Reference -> where it was written, in the order given (duplicates kept once)."""
    urls: dict[str, Where] = {}
    for position, value in enumerate(values or ()):
        ref = reference(value)
        if ref is None:
            checker.problem((name, position), t("overrides.not_a_reference", value=quoted(value)))
        else:
            urls.setdefault(ref, (name, position))
    return urls


def _moves(
    checker: Checker, values: dict[Any, Any], targets: Collection[str]
) -> dict[str, tuple[str, Where]]:
    """Reference -> (target section id, where it was written)."""
    moves: dict[str, tuple[str, Where]] = {}
    for url, target in (values or {}).items():
        at = ("move", str(url))
        ref = reference(url)
        if ref is None:
            checker.problem(at, t("overrides.not_a_reference", value=quoted(url)))
        elif not isinstance(target, str):
            checker.problem(at, t("config.expected_theme", got=kind_name(target)))
        elif target not in targets:
            checker.problem(at, unknown_theme(target, sorted(targets)))
        else:
            moves[ref] = (target, at)
    return moves


def _no_conflicts(checker: Checker, lists: dict[str, dict[str, Where]]) -> None:
    """A URL in two of pin/exclude/move is two decisions: ask which one is meant."""
    names = list(lists)
    for first, name in enumerate(names):
        for other in names[first + 1 :]:
            for url, at in lists[other].items():
                if url in lists[name]:
                    checker.problem(at, t("overrides.conflict", url=url, key=name))
