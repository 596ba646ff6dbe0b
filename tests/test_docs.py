"""The README stays true: every config key and every command is documented and has help."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli import cli
from digest.docs import section
from digest.i18n import LANGUAGES, messages

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "digest") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
    return found


def test_config_reference_matches_the_key_tables() -> None:
    assert section() in README, "run: python -m digest.docs"


def test_every_command_is_documented_and_has_help() -> None:
    listed = commands(cli)
    assert {"digest build", "digest check"} <= {name for name, _ in listed}
    for name, command in listed:
        assert command.help and command.help.strip(), f"{name} has no help"
        assert f"`{name}" in README, f"{name} is not in the README"


def test_every_help_text_is_in_the_catalogue() -> None:
    """Help texts are keys (help.build), shown in the staff language: both must have them."""
    for name, command in [("digest", cli), *commands(cli)]:
        texts = [command.help] + [p.help for p in command.params if isinstance(p, click.Option)]
        for text in texts:
            assert text, f"{name}: an option has no help"
            for language in LANGUAGES:
                assert messages(language).has(text), f"{name}: {text} ({language})"
