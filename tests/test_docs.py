"""The docs stay true: every config key and every command is documented and has help."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli import cli
from digest.docs import section

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "docs").glob("*.md")}


def commands(group: click.Group, prefix: str = "digest") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
    return found


def test_config_reference_matches_the_key_tables() -> None:
    assert section() in PAGES["configuration.md"], "run: python -m digest.docs"


def test_every_command_is_documented_and_has_help() -> None:
    listed = commands(cli)
    assert {"digest build", "digest check"} <= {name for name, _ in listed}
    docs = "\n".join([README, *PAGES.values()])
    for name, command in listed:
        assert command.help and command.help.strip(), f"{name} has no help"
        assert f"`{name}" in docs, f"{name} is not in the README nor in docs/"
