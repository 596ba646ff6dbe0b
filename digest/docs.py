"""The configuration reference of the docs, generated from config.py's key tables.

`python -m digest.docs` rewrites the section between the `config` markers of
docs/configuration.md; a test fails when the page and the tables disagree, so a new key
cannot go undocumented.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from . import config
from .checking import MAX_VALUES, REQUIRED, Key
from .errors import QUOTED_MAX_CHARS

# Key tables whose keys sit in a list of mappings rather than a mapping.
_LIST_TABLES = {"SOURCE": "sources[].", "THEME": "themes[].", "LINK": "newsletter.links[]."}
_MARKERS = ("<!-- section:config -->", "<!-- /section:config -->")
PAGE = Path("docs") / "configuration.md"


def _prefix(table_name: str) -> str:
    stem = table_name.removesuffix("_KEYS")
    if stem == "TOP":
        return ""
    return _LIST_TABLES.get(stem, stem.lower() + ".")


def _default(key: Key) -> str:
    if key.default is REQUIRED:
        return "required"
    if key.default in (None, "", [], {}):
        return "—"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    return f"`{key.default}`"


def reference() -> str:
    """The Markdown table of every key feeds.yaml accepts."""
    tables = [name for name in vars(config) if name.endswith("_KEYS")]
    tables.sort(key=lambda name: (name != "TOP_KEYS", name != "NEWSLETTER_KEYS"))
    rows = ["| key | default | what |", "| --- | --- | --- |"]
    for name in tables:
        prefix = _prefix(name)
        for key_name, key in getattr(config, name).items():
            rows.append(f"| `{prefix}{key_name}` | {_default(key)} | {key.doc} |")
    return "\n".join(rows)


def section() -> str:
    intro = (
        "# Configuration reference (`feeds.yaml`)\n\n"
        "Generated from the key tables in `digest/config.py` (`python -m digest.docs`). "
        "`digest check` reports every problem at once with its line; relative paths resolve "
        "against the folder of `feeds.yaml`. The file is saved as UTF-8 (a BOM is fine): "
        "another encoding (Windows-1252, UTF-16) is refused (exit 2) with the line and byte "
        "where it stops being UTF-8, never guessed. Secrets never go in this file: they come from "
        "the environment (`DIGEST_SMTP_URL`, `DIGEST_SECRET`: see "
        "[Environment](operations.md#environment)). YAML anchors and aliases "
        f"(`&cats` … `*cats`) may share values, but a file standing for more than {MAX_VALUES:,} "
        "values once they are written out is refused, and messages quote at most "
        f"{QUOTED_MAX_CHARS} characters of a value.\n\n"
    )
    return f"{_MARKERS[0]}\n{intro}{reference()}\n{_MARKERS[1]}"


def update_page(page: Path) -> bool:
    """Rewrite the config section of `page`; True if it changed."""
    text = page.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(_MARKERS[0]) + ".*?" + re.escape(_MARKERS[1]), re.S)
    updated = pattern.sub(lambda _match: section(), text)
    if updated != text:
        page.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PAGE
    print("updated" if update_page(target) else "up to date", target)
