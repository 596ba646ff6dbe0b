"""The command line: a thin click layer over the library. It only wires and prints.

Every DigestError is caught in `main` and printed as its message and hint, with the error's
exit code; a traceback only with --debug. Before click reads the command line, `main`
chooses the staff language (cli/language.py): help, click's words and our messages follow.
One module per group of commands: `build` (check, build), `run` (run, approve, issues),
`send` (send, report), `subscribers`, `staff`, `serve`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import __version__
from ..config import default_config_path
from ..errors import EXIT_INTERRUPTED, DigestError
from ..i18n import N_, t
from .build import build, check
from .failure import show_error
from .language import speak
from .run import approve_command, issues_command, run_command
from .send import report_command, send_command
from .serve import serve_command
from .staff import staff_group
from .state import State
from .subscribers import subscribers_group


# Help texts are catalogue keys, replaced by their text in the staff language by `main`.
@click.group(context_settings={"help_option_names": ["-h", "--help"]}, help=N_("help.digest"))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=N_("help.digest.config"),
)
@click.option("--debug", is_flag=True, help=N_("help.digest.debug"))
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    ctx.obj = State(config_path or default_config_path(), debug)


cli.add_command(check)
cli.add_command(build)
cli.add_command(subscribers_group)
cli.add_command(serve_command)
cli.add_command(staff_group)
cli.add_command(send_command)
cli.add_command(report_command)
cli.add_command(run_command)
cli.add_command(approve_command)
cli.add_command(issues_command)


def main() -> None:
    """Console entry point: run the CLI in the staff language, turning DigestError into a
    message and exit code."""
    args = sys.argv[1:]
    debug = "--debug" in args
    speak(cli, args)
    try:
        cli.main(args=args, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(t("cli.aborted"), err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DigestError as exc:
        if debug:
            raise
        show_error(exc)
        sys.exit(exc.exit_code)
