"""The command line: a thin click layer over the library. It only wires and prints.

Every DigestError is caught in `main` and printed as its message and hint, with the error's
exit code; a traceback only with --debug.
"""

from __future__ import annotations

import sys
import webbrowser
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .cli_delivery import report_command, send_command
from .cli_run import approve_command, issues_command, run_command
from .cli_subscribers import serve_command, subscribers_group
from .config import Config, default_config_path, load_config
from .errors import EXIT_FAILED, EXIT_USAGE, DigestError, SettingError, UsageError
from .models import Period, SourceResult
from .period import parse_moment, range_period, week_of, week_period
from .progress import TerminalProgress
from .summary import build_summary, status_table
from .wording import say

if TYPE_CHECKING:
    from .store import Store


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
@click.option("--fetch", is_flag=True, help="Also try every source and print their statuses.")
@pass_state
def check(state: _State, fetch: bool) -> None:
    """Validate feeds.yaml and report every problem at once (exit 2 if any)."""
    config = state.config
    counts = {"sources": len(config.sources), "themes": len(config.themes)}
    click.echo(say(config.newsletter.language, "check_ok", path=config.path, **counts))
    if not _has_sender(config):
        # Building needs no sender, so it is not a problem of the file; sending does.
        click.echo(say(config.newsletter.language, "check_no_sender"), err=True)
    _check_overrides(config)
    if fetch:
        from .pipeline import collect
        from .store import Store

        with Store(config.store) as store:
            results = collect(config, store, datetime.now(config.newsletter.tz), offline=False)
        for line in status_table(results, config.newsletter.language):
            click.echo(line)
        if any(r.status == "error" for r in results):
            sys.exit(EXIT_FAILED)


def _check_overrides(config: Config) -> None:
    """Every per-issue overrides file checked too; exit 2 after listing all their problems."""
    from .overrides import check_all_overrides

    errors = check_all_overrides(config)
    for error in errors:
        click.echo(f"error: {error.message}", err=True)
        if error.hint:
            click.echo(f"hint: {error.hint}", err=True)
    if errors:
        sys.exit(EXIT_USAGE)


def _has_sender(config: Config) -> bool:
    from .message import sender_address

    try:
        sender_address(config)
    except SettingError:
        return False
    return True


def _period(
    config: Config, week: str | None, since: str | None, until: str | None, now: datetime
) -> Period:
    """The period asked for on the command line; by default the week that contains `now`."""
    tz = config.newsletter.tz
    if week and (since or until):
        raise UsageError(
            "--week cannot be combined with --since/--until", hint="give one period or the other"
        )
    if week:
        return week_period(week, tz)
    if since or until:
        if not (since and until):
            raise UsageError("--since and --until go together", hint="give both, or --week")
        return range_period(_date(since, "--since"), _date(until, "--until"), tz)
    return week_of(now, tz)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            f"{option}: '{text}' is not a date", hint="write it like 2023-05-08"
        ) from exc


@cli.command()
@click.option("--week", help="ISO week to build, e.g. 2023-W19 (default: the current week).")
@click.option("--since", help="First day of a custom period (YYYY-MM-DD), with --until.")
@click.option("--until", help="Last day of a custom period (YYYY-MM-DD), inclusive.")
@click.option("--as-of", "as_of", help="Build as if it were this date/time (ISO); default now.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the issue to (default: out/ISSUE beside feeds.yaml).",
)
@click.option("--offline", is_flag=True, help="No network: feeds come from the cache or disk.")
@click.option("--open", "open_browser", is_flag=True, help="Open the email in a browser.")
@pass_state
def build(
    state: _State,
    week: str | None,
    since: str | None,
    until: str | None,
    as_of: str | None,
    out_dir: Path | None,
    offline: bool,
    open_browser: bool,
) -> None:
    """Build one issue and write digest.html, digest.txt, digest.json and web.html."""
    from .pipeline import build_issue, store_issue, write_issue
    from .store import Store

    config = state.config
    tz = config.newsletter.tz
    now = parse_moment(as_of, tz) if as_of else datetime.now(tz)
    period = _period(config, week, since, until, now)
    out = out_dir or config.folder / "out" / period.name
    total, done = len(config.sources), []
    with Store(config.store) as store, TerminalProgress("Sources") as progress:

        def on_source(source_result: SourceResult) -> None:
            done.append(source_result)
            progress(len(done), total)

        before = store.issue(period.name)
        result = build_issue(config, period, now, store, offline=offline, on_source=on_source)
        kept_as = store_issue(result, store)
        kept = _kept_note(store, period.name, kept_as, config)
    # What was approved is what is sent: a rebuild withdraws the approval, say so.
    withdrawn = kept_as is None and before is not None and before.status == "approved"
    paths = write_issue(result, out)
    stats = result.issue.stats
    lines = build_summary(
        period.name,
        result.issue.sources,
        result.issue.shown,
        stats.duplicates_merged,
        stats.already_sent,
        f"{out}/",
        config.newsletter.language,
    )
    click.echo(lines[0])
    for line in [*lines[1:], *result.warnings]:
        click.echo(line, err=True)
    if kept:
        click.echo(kept, err=True)
    if withdrawn:
        click.echo(say(config.newsletter.language, "unapproved", issue=period.name), err=True)
    if open_browser and not webbrowser.open(paths[0].resolve().as_uri()):
        click.echo(say(config.newsletter.language, "no_browser", path=paths[0]), err=True)


def _kept_note(store: Store, issue: str, kept: str | None, config: Config) -> str | None:
    """Why the store did not take the rebuilt issue (it went out, or is going out), if so."""
    language = config.newsletter.language
    if kept == "sending":
        from .deliver import report

        return say(language, "kept_sending", issue=issue, left=report(store, issue).left)
    return say(language, "kept_sent", issue=issue) if kept else None


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
