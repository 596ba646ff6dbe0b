"""Parsed items as the fetch cache keeps them: JSON, compressed, under a key.

A 304, or a body unchanged since the last fetch, reuses the items its last parse gave
instead of parsing the body again (parsing is most of a build's CPU). The key names what
made those items: `PARSER_VERSION` (bumped with every change to what parsing produces) and
the source's settings, so a new parser or a renamed source parses again. JSON, not pickle:
the store file is data, and reading it must never run code. Fields are read from `Item`'s
own declaration, so a field added to Item needs no change here (a field no item sets is
not written; an old copy lacking a field gets the default, a field gone invalidates the
copy).

The JSON holds columns, not one object per item: `{"columns": {"title": [...], ...}}`.
Why: a warm build decodes 10,000 items; columns are checked a whole column at a time and
make Items positionally, which took a third off decoding (BENCHMARKS.md). A copy in any
other shape (the per-item objects of before) is refused: the body is parsed again, once.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
import zlib
from collections.abc import Callable
from dataclasses import MISSING, Field, fields
from datetime import datetime
from typing import Any, Literal

from ..config import SourceConfig
from ..models import Item
from .feedparse import PARSER_VERSION

__all__ = ["copy_id", "decode_items", "encode_items", "parse_key"]

# Settings that never reach parse_feed: whether the source is read, its offline copy, and
# what themes make of its items later. Every other field (and any new one) is in the key.
_NOT_PARSED = frozenset({"enabled", "snapshot", "theme", "categories"})
Converter = Callable[[Any], Any]


def parse_key(source: SourceConfig) -> str:
    """The key of items parsed from `source` by this version of the parser."""
    settings = {
        f.name: str(getattr(source, f.name)) for f in fields(source) if f.name not in _NOT_PARSED
    }
    text = json.dumps([PARSER_VERSION, settings], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def encode_items(items: tuple[Item, ...]) -> bytes:
    """Compact bytes: one JSON list per field that some item sets (see the module)."""
    columns = {
        f.name: [_plain(getattr(item, f.name)) for item in items]
        for f in fields(Item)
        if any(getattr(item, f.name) != f.default for item in items)
    }
    document = {"count": len(items), "columns": columns}
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), check_circular=False)
    return zlib.compress(text.encode(), 1)


def copy_id(data: bytes) -> str:
    """What identifies the items of an encoded copy (or of the bytes they are parsed from,
    prefixed with their parse key): equal ids, equal items (SourceResult.copy)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def decode_items(data: bytes) -> tuple[Item, ...] | None:
    """The items `encode_items` wrote; None when the bytes are not such a copy (then the
    body is parsed again: a damaged cache costs a parse, never the feed)."""
    try:
        document = json.loads(zlib.decompress(data))
        count, columns = document["count"], document["columns"]
        if type(count) is not int or set(columns) - _CONVERTERS.keys():
            return None  # a field Item no longer has
        return tuple(map(Item, *(_column(f, columns.get(f.name), count) for f in _FIELDS)))
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error):
        return None


def _column(declared: Field[Any], values: Any, count: int) -> list[Any]:
    """One field's values, checked (strings: a type check of the whole column, the fast
    path) or converted (dates, tuples, literals); the default for a field not written."""
    if values is None:
        if declared.default is MISSING and count:
            _refuse(values)  # a field every item has, not written
        return [declared.default] * count
    if type(values) is not list or len(values) != count:
        _refuse(values)
    allowed = _PLAIN.get(declared.name)
    if allowed is None:
        convert = _CONVERTERS[declared.name]
        return [convert(value) for value in values]
    checked: list[Any] = values
    if not set(map(type, checked)) <= allowed:
        _refuse(values)
    return checked


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return value  # str, None, bool, numbers; tuples become JSON lists


def _converter(hint: Any) -> Converter:
    """Checks a JSON value against a field's type and gives it that type back."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    nullable = type(None) in options
    kinds = [option for option in options if option is not type(None)]
    # A union of several kinds (none in Item today) is taken as JSON gave it.
    convert = _converter_of(kinds[0]) if len(kinds) == 1 else (lambda value: value)
    return (lambda value: None if value is None else convert(value)) if nullable else convert


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _converter_of(kind: Any) -> Converter:
    if kind is datetime:
        return lambda value: datetime.fromisoformat(_checked(value, str))
    origin = typing.get_origin(kind)
    if origin is tuple:
        inner = _converter_of(typing.get_args(kind)[0])
        return lambda value: tuple(inner(v) for v in _checked(value, list))
    if origin is Literal:
        allowed = typing.get_args(kind)
        return lambda value: value if value in allowed else _refuse(value)
    return lambda value: _checked(value, kind)


def _checked(value: Any, kind: type) -> Any:
    if isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool)):
        return value
    return _refuse(value)


def _refuse(value: object) -> Any:
    raise TypeError(f"unexpected {type(value).__name__} in a cached item")


def _plain_types(hint: Any) -> tuple[type, ...] | None:
    """The JSON types a field takes as they are (str, str | None, bool...), else None."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    plain = (str, bool, int, float, type(None))
    return options if all(option in plain for option in options) else None


_FIELDS = fields(Item)
_HINTS = typing.get_type_hints(Item)
_CONVERTERS = {name: _converter(hint) for name, hint in _HINTS.items()}
_PLAIN = {name: set(kinds) for name, hint in _HINTS.items() if (kinds := _plain_types(hint))}
