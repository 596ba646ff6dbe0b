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

from .errors import quoted, shortened

# Why a bound: PyYAML shares an aliased node instead of copying it, so eight levels of
# `b: [*a, *a, ...]` load in a millisecond yet stand for 43 million strings, which the
# checks walk and the error messages print. A real feeds.yaml has a few hundred values.
MAX_VALUES = 100_000


class TooLarge(yaml.YAMLError):
    """The document is valid YAML but stands for too much once its aliases are expanded."""


def load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree or None for an empty document, its values); yaml.YAMLError when refused."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if expanded_size(node, {}) > MAX_VALUES:
            raise TooLarge(
                f"it stands for more than {MAX_VALUES:,} values once its aliases (*) are"
                " expanded: write the values out, or share smaller ones"
            )
        return node, loader.construct_document(node)
    except RecursionError as exc:
        raise TooLarge("it is nested too deeply") from exc
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


def did_you_mean(word: str, known: list[str]) -> str:
    """ ", did you mean 'x'?" for a close name, else the list of the known ones."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=SUGGEST_CUTOFF)
    return f", did you mean '{close[0]}'?" if close else f" (known: {', '.join(known)})"


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
                    self.problem((*at, key), "key given twice (the last one would win)")
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
        self.problems.insert(index, f"{where}{dotted(at) or '(top)'}: {message}")

    def _line(self, at: tuple[str | int, ...]) -> int | None:
        while at and at not in self.lines:
            at = at[:-1]
        return self.lines.get(at)

    def section(self, data: Any, keys: dict[str, Key], at: tuple[str | int, ...]) -> dict[str, Any]:
        """Check one mapping against its key table; return values with defaults filled in."""
        if not isinstance(data, dict):
            self.problem(at, f"expected a mapping, got {kind_name(data)}")
            data = {}
        for unknown in sorted(set(map(str, data)) - set(keys)):
            hint = did_you_mean(unknown, list(keys))
            self.problem((*at, unknown), f"unknown key {quoted(unknown)}{hint}")
        return {name: self.value(data, name, key, (*at, name)) for name, key in keys.items()}

    def value(self, data: dict[str, Any], name: str, key: Key, at: tuple[str | int, ...]) -> Any:
        if name not in data or data[name] is None:
            if key.default is REQUIRED:
                self.problem(at, "missing (required)")
            return key.default
        value = data[name]
        if key.kind in (float, (int, float)) and isinstance(value, int):
            value = float(value)
        if not isinstance(value, key.kind) or (isinstance(value, bool) and key.kind is not bool):
            self.problem(at, f"expected {expected(key.kind)}, got {kind_name(value)}")
            return key.default if key.default is not REQUIRED else None
        message = key.check(value) if key.check else None
        if message:
            self.problem(at, message)
        return value

    def strings(self, values: Any, at: tuple[str | int, ...]) -> None:
        for position, value in enumerate(values or ()):
            if not isinstance(value, str) or not value.strip():
                self.problem(
                    (*at, position), f"expected a non-empty string, got {kind_name(value)}"
                )

    def unique(self, values: list[str], list_name: str, key: str) -> None:
        seen: set[str] = set()
        for position, value in enumerate(values):
            if value and value in seen:
                self.problem((list_name, position, key), f"{quoted(value)} is used twice")
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


def kind_name(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        type(None): "nothing",
    }
    return names.get(type(value), type(value).__name__)


def expected(kind: Kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(kind_name(k()) for k in kinds)
