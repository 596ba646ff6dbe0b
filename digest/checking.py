"""Staff YAML (feeds.yaml, per-issue overrides files): the bounded safe loader, and the generic
checker behind both.

A key table (`Key`: type, default, doc, check) drives defaults and validation; `setting`
declares a key once, on the dataclass field that holds its value, and `keys_of` derives the
table from the dataclass. `Checker` walks the parsed YAML, records every problem with its line
and location (`feeds.yaml:12: sources[3].url: not an http(s) URL`), and keeps them in file
order so a person fixes the file top to bottom in one go.

`load_yaml(text)` returns the node tree (it has the lines) and the values from one parse,
or raises yaml.YAMLError. Anchors and aliases stay allowed (one list of categories shared by
several sources is fair use), but a document standing for more than MAX_VALUES values once
its aliases are written out is refused, and so is one nested past Python's recursion limit.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePath
from typing import Any

import yaml
from babel.numbers import format_decimal

from .errors import ConfigError, quoted, shortened
from .i18n import N_, current_staff_language, t

# Why a bound: PyYAML shares an aliased node instead of copying it, so eight levels of
# `b: [*a, *a, ...]` load in a millisecond yet stand for 43 million strings, which the
# checks walk and the error messages print. A real feeds.yaml has a few hundred values.
MAX_VALUES = 100_000


# libyaml's loader when PyYAML has it (its wheels do): ten times faster on a feeds.yaml of
# 200 sources (0.1 s), with the same nodes, marks and values as the pure-Python one.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TooLarge(yaml.YAMLError):
    """The document is valid YAML but stands for too much once its aliases are expanded."""


def load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree or None for an empty document, its values); yaml.YAMLError when refused."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if expanded_size(node, {}) > MAX_VALUES:
            limit = format_decimal(MAX_VALUES, locale=current_staff_language())
            raise TooLarge(t("config.too_large", limit=limit))
        return node, loader.construct_document(node)
    except RecursionError as exc:
        raise TooLarge(t("config.too_deep")) from exc
    except yaml.MarkedYAMLError as exc:
        # libyaml stops a deep nesting itself (at 1,000 levels): the same refusal as ours.
        if "maximum nesting depth" in str(exc.problem):
            raise TooLarge(t("config.too_deep")) from exc
        raise
    finally:
        loader.dispose()


def expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes `node` stands for with every alias written out (memoized in `sizes`)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_VALUES + 1  # until known: an alias to itself (a cycle) is too large
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    size = 1 + sum(expanded_size(child, sizes) for child in children)
    sizes[id(node)] = size
    return size


def config_error(
    problems: list[str], hint: str | None = None, path: str = "", about: str | None = None
) -> ConfigError:
    """The ConfigError listing `problems`, its heading in the staff language: "3 problems in
    the configuration:", or in `about` ("the overrides file …") when it names another file."""
    about = about if about is not None else t("error.about_config")
    heading = t("error.problems", count=len(problems), about=about)
    return ConfigError(problems, heading=heading, hint=hint, path=path)


REQUIRED = object()
Check = Callable[[Any], str | None]
Kind = type | tuple[type, ...]


@dataclass(frozen=True)
class Key:
    """One accepted key: its type, default (REQUIRED if none) and a one-line doc."""

    kind: Kind
    default: Any = REQUIRED
    doc: str = ""
    check: Check | None = None


def setting(default: Any, doc: str, *, kind: Kind | None = None, check: Check | None = None) -> Any:
    """A dataclass field that is also a YAML key: its default, doc and check, written once.

    The key takes the default as YAML writes it (a Path as text, a tuple as a list) and, unless
    `kind` is given, that value's type (a float also accepts a whole number).
    """
    written = str(default) if isinstance(default, PurePath) else default
    written = list(written) if isinstance(written, tuple) else written
    if kind is None and written is None:
        raise TypeError(f"setting {doc!r}: a default of None needs kind=")
    kind = kind or ((int, float) if isinstance(written, float) else type(written))
    metadata = {Key: Key(kind, written, doc, check)}
    if isinstance(default, dict | list):
        return field(default_factory=default.copy, metadata=metadata)
    return field(default=default, metadata=metadata)


def required(kind: Kind, doc: str, check: Check | None = None) -> dict[Any, Key]:
    """The metadata of a key without a default: `name: str = field(metadata=required(str, doc))`."""
    return {Key: Key(kind, REQUIRED, doc, check)}


def subsection(cls: type, doc: str) -> Any:
    """A field holding a mapping with keys of its own, read into `cls` (its defaults if absent)."""
    return field(default_factory=cls, metadata={Key: Key(dict, {}, doc)})


def keys_of(cls: type) -> dict[str, Key]:
    """The key table of a dataclass: its fields made by `setting`, `required` or `subsection`."""
    return {f.name: f.metadata[Key] for f in fields(cls) if Key in f.metadata}


# How alike a mistyped name must be to be suggested: "climate" → "climat" (0.92) and
# "titel" → "title" (0.8) are; "nature" → "autres" (0.67) only misleads.
SUGGEST_CUTOFF = 0.75


def close_name(word: str, known: list[str]) -> str | None:
    """The known name `word` was most likely meant to be, if one is close enough."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=SUGGEST_CUTOFF)
    return close[0] if close else None


def unknown_key(key: Any, known: list[str]) -> str:
    """The problem of an unknown key: the close name it may stand for, else the known ones."""
    close = close_name(str(key), known)
    if close is not None:
        return t("config.unknown_key_close", key=quoted(key), close=close)
    return t("config.unknown_key", key=quoted(key), known=", ".join(known))


def unknown_theme(theme: str, known: list[str]) -> str:
    """The problem of an unknown theme id: the close id, else the known ones."""
    close = close_name(theme, known)
    if close is not None:
        return t("config.unknown_theme_close", theme=quoted(theme), close=close)
    return t("config.unknown_theme", theme=quoted(theme), known=", ".join(known))


class Checker:
    """Walks parsed staff YAML and records every problem with its line, in file order.

    Subclasses build their own result (the Config, an issue's overrides) with `section`,
    `value` and `problem`; nothing is raised until the whole file has been seen.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[tuple[str | int, ...], int] = {}
        self.problems: list[str] = []  # in the order of their lines in the file
        self._problem_lines: list[int] = []

    def index(self, node: yaml.Node, at: tuple[str | int, ...]) -> None:
        """Remember the line of every key, and report duplicated keys."""
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    self.lines[(*at, key)] = key_node.start_mark.line + 1
                    self.problem((*at, key), t("config.key_twice"))
                seen.add(key)
                self.index(value_node, (*at, key))
                self.lines[(*at, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for position, child in enumerate(node.value):
                self.index(child, (*at, position))

    def problem(self, at: tuple[str | int, ...], message: str) -> None:
        line = self._line(at)
        where = f"{self.path.name}:{line}: " if line else f"{self.path.name}: "
        # Kept in file order (the checks run key by key), so a person fixes top to bottom.
        index = bisect.bisect_right(self._problem_lines, line or 0)
        self._problem_lines.insert(index, line or 0)
        located = dotted(at) or t("config.top")
        self.problems.insert(index, f"{where}{located}: {message}")

    def _line(self, at: tuple[str | int, ...]) -> int | None:
        while at and at not in self.lines:
            at = at[:-1]
        return self.lines.get(at)

    def section(self, data: Any, keys: dict[str, Key], at: tuple[str | int, ...]) -> dict[str, Any]:
        """Check one mapping against its key table; return values with defaults filled in."""
        if not isinstance(data, dict):
            self.problem(at, t("config.expected", expected=expected(dict), got=kind_name(data)))
            data = {}
        for unknown in sorted(set(map(str, data)) - set(keys)):
            self.problem((*at, unknown), unknown_key(unknown, list(keys)))
        return {name: self.value(data, name, key, (*at, name)) for name, key in keys.items()}

    def value(self, data: dict[str, Any], name: str, key: Key, at: tuple[str | int, ...]) -> Any:
        if name not in data or data[name] is None:
            if key.default is REQUIRED:
                self.problem(at, t("config.missing"))
            return key.default
        value = data[name]
        if key.kind in (float, (int, float)) and isinstance(value, int):
            value = float(value)
        if not isinstance(value, key.kind) or (isinstance(value, bool) and key.kind is not bool):
            self.problem(
                at, t("config.expected", expected=expected(key.kind), got=kind_name(value))
            )
            return key.default if key.default is not REQUIRED else None
        message = key.check(value) if key.check else None
        if message:
            self.problem(at, message)
        return value

    def strings(self, values: Any, at: tuple[str | int, ...]) -> None:
        for position, value in enumerate(values or ()):
            if isinstance(value, str) and not value.strip():
                self.problem((*at, position), t("config.blank_text"))
            elif not isinstance(value, str):
                self.problem((*at, position), t("config.expected_text", got=kind_name(value)))

    def unique(self, values: list[str], list_name: str, key: str) -> None:
        seen: set[str] = set()
        for position, value in enumerate(values):
            if value and value in seen:
                self.problem(
                    (list_name, position, key), t("config.used_twice", value=quoted(value))
                )
            seen.add(value)

    def resolve(self, value: str) -> Path:
        """Relative paths resolve against the config file's own folder."""
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()


def dotted(at: tuple[str | int, ...]) -> str:
    """`sources[3].url`; a key that long (a mistake) is cut, as quoted values are."""
    text = ""
    for part in at:
        name = f"[{part}]" if isinstance(part, int) else shortened(part)
        text += name if isinstance(part, int) or not text else f".{name}"
    return text


# What a value is, as a problem names it ("expected a list, got text").
KIND_NAMES = {
    dict: N_("config.kind.mapping"),
    list: N_("config.kind.list"),
    str: N_("config.kind.text"),
    bool: N_("config.kind.bool"),
    int: N_("config.kind.int"),
    float: N_("config.kind.float"),
    type(None): N_("config.kind.none"),
}


def kind_name(value: Any) -> str:
    key = KIND_NAMES.get(type(value))
    return t(key) if key else type(value).__name__


def expected(kind: Kind) -> str:
    """The kinds a key accepts, as a problem names them ("a whole number or a number")."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = [kind_name(k()) for k in kinds]
    said = names[0]
    for name in names[1:]:
        said = t("config.kind.or", first=said, second=name)
    return said
