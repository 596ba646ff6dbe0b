"""The command line: a thin click layer over the library. It only wires and prints.

Every DigestError is caught in `main` and printed as its message and hint, with the error's
exit code; a traceback only with --debug. One module per group of commands: `build` (check,
build), `run` (run, approve, issues), `send` (send, report), `subscribers`, `serve`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..config import default_config_path
from ..errors import EXIT_INTERRUPTED, DigestError
from .build import build, check
from .run import approve_command, issues_command, run_command
from .send import report_command, send_command
from .serve import serve_command
from .state import State
from .subscribers import subscribers_group


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
    ctx.obj = State(config_path or default_config_path(), debug)


cli.add_command(check)
cli.add_command(build)
cli.add_command(subscribers_group)
cli.add_command(serve_command)
cli.add_command(send_command)
cli.add_command(report_command)
cli.add_command(run_command)
cli.add_command(approve_command)
cli.add_command(issues_command)


def main() -> None:
    """Console entry point: run the CLI, turning DigestError into a message and exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
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
