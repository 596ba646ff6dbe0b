"""The command line: a thin click layer over the library. It only wires and prints.

Every DigestError is caught in `main` and printed as its message and hint, with the error's
exit code; a traceback only with --debug. Before click reads the command line, `main`
chooses the staff language (cli/language.py): help, click's words and our messages follow.
One module per group of commands: `build` (check, build), `run` (run, approve, issues),
`send` (send, report, retry), `subscribers`, `staff`, `serve`.
"""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path

import click

from .. import __version__
from ..config import default_config_path
from ..errors import EXIT_INTERRUPTED, DigestError
from ..i18n import N_, t
from .build import build, check
from .failure import show_error
from .language import localize_help, speak
from .state import State

# The commands imported only when used, by name: (module, attribute). Why: `digest build`,
# what cron and staff run most, need not import the web console, delivery and address
# checking (a third of the command line's start-up time).
LAZY_COMMANDS = {
    "subscribers": ("subscribers", "subscribers_group"),
    "serve": ("serve", "serve_command"),
    "staff": ("staff", "staff_group"),
    "send": ("send", "send_command"),
    "report": ("send", "report_command"),
    "retry": ("send", "retry_command"),
    "run": ("run", "run_command"),
    "approve": ("run", "approve_command"),
    "issues": ("run", "issues_command"),
}


class LazyGroup(click.Group):
    """A group whose LAZY_COMMANDS are imported when click asks for them, then spoken in
    the staff language `main` chose (as `speak` did for the commands already there)."""

    language: str | None = None  # set by main once `speak` chose it

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
            if self.language is not None:
                localize_help(command, self.language)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


# Help texts are catalogue keys, replaced by their text in the staff language by `main`.
@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_("help.digest"),
)
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


def main() -> None:
    """Console entry point: run the CLI in the staff language, turning DigestError into a
    message and exit code."""
    try:
        _run(sys.argv[1:])
    finally:
        # Why: at exit Python walks the whole heap in one last cyclic collection; after a
        # build (10,000 items, their words) that took 0.15 s of a 1.8 s rebuild
        # (BENCHMARKS.md). Freezing leaves the objects alive now out of it; the process is
        # ending, and every file and store the commands open is closed by then.
        gc.freeze()


def _run(args: list[str]) -> None:
    debug = "--debug" in args
    cli.language = speak(cli, args)
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
