"""Jinja2 environments with layered templates: the config's folder, then the defaults.

Staff override one file at a time (pelican's theme fallback): a template found in the
folder named by `templates:` in feeds.yaml wins; any other comes from the package.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from ..config import Config

DEFAULT_TEMPLATES = Path(__file__).parent.parent / "templates"


def make_env(config: Config | None, *, autoescape: bool = True) -> jinja2.Environment:
    """An environment with autoescape (off only for plain-text output) and StrictUndefined."""
    folders = [DEFAULT_TEMPLATES]
    if config is not None and config.templates is not None:
        folders.insert(0, config.templates)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
