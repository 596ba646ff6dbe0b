"""Parsed items as the fetch cache keeps them: JSON, compressed, under a key.

A 304, or a body unchanged since the last fetch, reuses the items its last parse gave
instead of parsing the body again (parsing is most of a build's CPU). The key names what
made those items: `PARSER_VERSION` (bumped with every change to what parsing produces) and
the source's settings, so a new parser or a renamed source parses again. JSON, not pickle:
the store file is data, and reading it must never run code. Fields are read from `Item`'s
own declaration, so a field added to Item needs no change here (its default is not
written; an old copy lacking a field gets the default, a field gone invalidates the copy).
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
import zlib
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import Any, Literal

from ..config import SourceConfig
from ..models import Item
from .feedparse import PARSER_VERSION

__all__ = ["decode_items", "encode_items", "parse_key"]

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
    """Compact bytes: one JSON object per item with its fields that are not the default."""
    rows = [
        {
            f.name: _plain(value)
            for f in fields(Item)
            if (value := getattr(item, f.name)) != f.default
        }
        for item in items
    ]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), check_circular=False)
    return zlib.compress(text.encode(), 1)


def decode_items(data: bytes) -> tuple[Item, ...] | None:
    """The items `encode_items` wrote; None when the bytes are not such a copy (then the
    body is parsed again: a damaged cache costs a parse, never the feed)."""
    try:
        return tuple(_item(row) for row in json.loads(zlib.decompress(data)))
    except (ValueError, TypeError, KeyError, AttributeError, zlib.error):
        return None


def _item(row: dict[str, Any]) -> Item:
    # Most fields are strings used as JSON gave them: a type check only (the fast path:
    # a warm build reads 10,000 items); dates, tuples and literals are converted.
    for name, value in row.items():
        allowed = _PLAIN.get(name)
        if allowed is None:
            row[name] = _CONVERTERS[name](value)  # KeyError: a field Item no longer has
        elif type(value) not in allowed:
            _refuse(value)
    return Item(**row)


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


_HINTS = typing.get_type_hints(Item)
_CONVERTERS = {name: _converter(hint) for name, hint in _HINTS.items()}
_PLAIN = {name: kinds for name, hint in _HINTS.items() if (kinds := _plain_types(hint))}
