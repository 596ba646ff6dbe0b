"""What the `digest` group's options leave for its commands, shared by every command module.

The config is loaded on demand, so `digest --help` and a command's `--help` work even when
feeds.yaml is broken.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import Config, load_config


class State:
    """The group's options: where feeds.yaml is, and whether to show tracebacks."""

    def __init__(self, config_path: Path, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_state = click.make_pass_decorator(State)
