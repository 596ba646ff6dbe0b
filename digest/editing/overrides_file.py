"""Writing an issue's overrides file (DESIGN §6), so the console, the CLI and a text editor
edit one file and always agree.

    current = open_overrides(config, "2026-W19")
    save(current, pin(current.values, "https://…"), expected=fingerprint_from_form)

What is written keeps what the file had: its format (.md front matter + edito body, or
.yaml), its other keys (`title`, anything `digest check` accepts), the order of its keys,
and the comments before its first key (where the shipped files explain themselves to
staff). Comments between keys are not kept (PyYAML drops them); the edito body is written
as typed. A file that changed since staff loaded the page (its fingerprint differs)
is never overwritten: `EditConflict`, and the caller shows the page again with the input
kept. Writes are atomic (temp file in the folder, fsync, rename).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import Config
from ..errors import UsageError
from ..i18n import t
from ..overrides import load_overrides, move_targets, parse_overrides, reference

ABSENT = "absent"  # the fingerprint of an overrides file that does not exist yet
LIST_KEYS = ("pin", "exclude")


class EditConflict(UsageError):
    """The overrides file changed since the page was loaded: nothing was written."""


@dataclass(frozen=True)
class OverridesFile:
    """The overrides file of one issue as it is on disk now (or the one to create)."""

    issue_id: str
    path: Path
    fingerprint: str
    values: dict[str, Any] = field(default_factory=dict)  # front matter (or the whole .yaml)
    edito: str = ""  # a .md file's body
    preamble: str = ""  # the comment lines before the first key, written back as they were


def fingerprint_of(data: bytes | None) -> str:
    return ABSENT if data is None else hashlib.sha256(data).hexdigest()


def open_overrides(config: Config, issue_id: str) -> OverridesFile:
    """The issue's overrides file, checked as a build reads it (ConfigError when it is
    wrong: staff fix it in a text editor first, the console never guesses)."""
    folder = config.issue.overrides
    if folder is None:
        raise UsageError(t("edit.no_folder"), hint=t("edit.no_folder_hint"))
    checked = load_overrides(config, issue_id)
    path = checked.path or folder / f"{issue_id}.md"
    data = _read(path)
    if data is None:
        return OverridesFile(issue_id, path, ABSENT)
    values, edito, preamble = _split(data.decode("utf-8-sig"), path)
    return OverridesFile(issue_id, path, fingerprint_of(data), values, edito, preamble)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _split(text: str, path: Path) -> tuple[dict[str, Any], str, str]:
    """(keys, edito body, leading comments). load_overrides checked the file: this only
    takes it apart."""
    if path.suffix != ".md":
        values = dict(yaml.safe_load(text) or {})
        edito = str(values.pop("edito", "") or "").strip()
        return values, edito, _preamble(text.splitlines(keepends=True))
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text.strip(), ""
    end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "..."))
    front = yaml.safe_load("".join(lines[1:end])) or {}
    return dict(front), "".join(lines[end + 1 :]).strip(), _preamble(lines[1:end])


def _preamble(lines: list[str]) -> str:
    """The comment lines (and blank lines between them) before the first key."""
    kept: list[str] = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        kept.append(line if line.endswith("\n") else line + "\n")
    while kept and not kept[-1].strip():
        kept.pop()
    return "".join(kept)


# -- edits: each takes the keys and returns new keys (the caller saves them) -----------------

Values = dict[str, Any]


def _same(value: Any, ref: str) -> bool:
    return reference(value) == ref


def _without(values: Values, name: str) -> Values:
    """`values` with every mention of the item `name` gone from pin, exclude and move."""
    ref = reference(name)
    out = dict(values)
    for key in LIST_KEYS:
        if key in out:
            kept = [v for v in _as_list(out[key]) if not _same(v, ref or "")]
            out[key] = kept
    if isinstance(out.get("move"), dict):
        out["move"] = {k: v for k, v in out["move"].items() if not _same(k, ref or "")}
    return _tidy(out)


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or [])


def _tidy(values: Values) -> Values:
    """Empty pin/exclude/move keys go: the file stays as short as staff would write it."""
    return {k: v for k, v in values.items() if v not in ([], {}) or k not in (*LIST_KEYS, "move")}


def pin(values: Values, name: str) -> Values:
    """Put the item first, under « À la une » (last of the pinned ones)."""
    out = _without(values, name)
    out["pin"] = [*_as_list(out.get("pin")), name]
    return out


def exclude(values: Values, name: str) -> Values:
    out = _without(values, name)
    out["exclude"] = [*_as_list(out.get("exclude")), name]
    return out


def release(values: Values, name: str) -> Values:
    """Undo a pin, an exclusion or a move: the item goes back where the rules put it."""
    return _without(values, name)


def move(values: Values, name: str, target: str, config: Config) -> Values:
    if target not in move_targets(config):
        raise UsageError(t("edit.unknown_section", section=target))
    out = _without(values, name)
    out["move"] = {**(out.get("move") or {}), name: target}
    return out


def shift(values: Values, name: str, step: int) -> Values:
    """Move a pinned item up (-1) or down (+1) among the pinned ones."""
    pins = _as_list(values.get("pin"))
    ref = reference(name) or ""
    at = next((i for i, v in enumerate(pins) if _same(v, ref)), None)
    if at is None or not 0 <= at + step < len(pins):
        return dict(values)
    pins[at], pins[at + step] = pins[at + step], pins[at]
    return {**values, "pin": pins}


def texts(values: Values, subject: str, preheader: str) -> Values:
    """The subject and preheader typed (empty: the key goes, the default comes back)."""
    out = {k: v for k, v in values.items() if k not in ("subject", "preheader")}
    for key, typed in (("subject", subject.strip()), ("preheader", preheader.strip())):
        if typed:
            out[key] = typed
    return out


# -- writing --------------------------------------------------------------------------------


def render(current: OverridesFile, values: Values, edito: str) -> str:
    """The file's new text, in its own format."""
    if current.path.suffix != ".md":
        kept = {k: v for k, v in values.items() if k != "edito"}
        return current.preamble + _dump(
            {**kept, **({"edito": edito.strip()} if edito.strip() else {})}
        )
    front = current.preamble + (_dump(values) if values else "")
    body = edito.strip()
    text = f"---\n{front}---\n" if front else ""
    return text + (f"\n{body}\n" if front and body else f"{body}\n" if body else "")


def _dump(values: Values) -> str:
    return yaml.safe_dump(values, allow_unicode=True, sort_keys=False, width=100)


def save(
    config: Config,
    current: OverridesFile,
    values: Values,
    edito: str,
    expected: str,
) -> OverridesFile:
    """Write the new file unless it changed since `expected` was read; returns it reread.

    The text is checked as a build would read it before anything is written, so the console
    can never leave a file `digest build` refuses."""
    text = render(current, values, edito)
    parse_overrides(text, current.path, move_targets(config))
    if fingerprint_of(_read(current.path)) != expected or current.fingerprint != expected:
        raise EditConflict(t("edit.conflict", name=current.path.name), hint=t("edit.conflict_hint"))
    write_atomically(current.path, text)
    return open_overrides(config, current.issue_id)


def write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


Edit = Callable[[Values], Values]


def edit(
    config: Config, issue_id: str, change: Edit, expected: str, edito: str | None = None
) -> OverridesFile:
    """Open, change and save the issue's overrides (the edito kept unless given): one call
    for the console and a command."""
    current = open_overrides(config, issue_id)
    body = current.edito if edito is None else edito
    return save(config, current, change(current.values), body, expected)
