"""The command line: a thin click layer over the library. It only wires and prints.

Every DigestError is caught in `main` and printed as its message and hint, with the error's
exit code; a traceback only with --debug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .config import Config, default_config_path, load_config
from .errors import DigestError


class _State:
    """What the group's options leave for the commands: the config is loaded on demand."""

    def __init__(self, config_path: Path, debug: bool) -> None:
        self.config_path = config_path
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


pass_state = click.make_pass_decorator(_State)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="feeds.yaml to use (default: $DIGEST_CONFIG, then ./feeds.yaml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Write and send a weekly newsletter from partner feeds and local recaps."""
    ctx.obj = _State(config_path or default_config_path(), debug)


@cli.command()
@pass_state
def check(state: _State) -> None:
    """Validate feeds.yaml and report every problem at once."""
    config = state.config
    click.echo(f"{config.path}: ok ({len(config.sources)} sources, {len(config.themes)} themes)")


def main() -> None:
    """Console entry point: run the CLI, turning DigestError into a message and exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DigestError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
