"""`digest check` and `digest build`: thin click wiring over config and the pipeline."""

from __future__ import annotations

import sys
import webbrowser
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..config import Config
from ..errors import EXIT_FAILED, EXIT_USAGE, SettingError, UsageError
from ..i18n import N_, say, staff_language, t
from ..models import Period, SourceResult
from ..period import parse_moment, range_period, week_of, week_period
from .failure import show_error
from .progress import TerminalProgress
from .state import State, pass_state
from .summary import build_summary, status_table

if TYPE_CHECKING:
    from ..store import Store


@click.command(help=N_("help.check"))
@click.option("--fetch", is_flag=True, help=N_("help.check.fetch"))
@pass_state
def check(state: State, fetch: bool) -> None:
    config = state.config
    language = staff_language(config)
    counts = {"sources": len(config.sources), "themes": len(config.themes)}
    click.echo(say(language, "check.ok", path=config.path, **counts))
    if not _has_sender(config):
        # Building needs no sender, so it is not a problem of the file; sending does.
        click.echo(say(language, "check.no_sender"), err=True)
    elif not config.newsletter.address.strip():
        # The law asks every commercial email to say who sends it and where from.
        click.echo(say(language, "check.no_address"), err=True)
    _check_overrides(config)
    if fetch:
        from ..pipeline import collect
        from ..store import Store

        with Store(config.store) as store:
            results = collect(config, store, datetime.now(config.newsletter.tz), offline=False)
        for line in status_table(results, language):
            click.echo(line)
        if any(r.status == "error" for r in results):
            sys.exit(EXIT_FAILED)


def _check_overrides(config: Config) -> None:
    """Every per-issue overrides file and the staff's own wording (templates/locale/*.po)
    checked too; exit 2 after listing all their problems."""
    from ..i18n import check_overrides
    from ..overrides import check_all_overrides

    errors = check_all_overrides(config)
    errors += check_overrides(config.templates) if config.templates else []
    for error in errors:
        show_error(error)
    if errors:
        sys.exit(EXIT_USAGE)


def _has_sender(config: Config) -> bool:
    from ..delivery.message import sender_address

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
        raise UsageError(t("build.week_and_range"), hint=t("build.week_and_range_hint"))
    if week:
        return week_period(week, tz)
    if since or until:
        if not (since and until):
            raise UsageError(t("build.since_until"), hint=t("build.since_until_hint"))
        return range_period(_date(since, "--since"), _date(until, "--until"), tz)
    return week_of(now, tz)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(
            t("build.not_a_date", option=option, text=text), hint=t("build.not_a_date_hint")
        ) from exc


@click.command(help=N_("help.build"))
@click.option("--week", help=N_("help.build.week"))
@click.option("--since", help=N_("help.build.since"))
@click.option("--until", help=N_("help.build.until"))
@click.option("--as-of", "as_of", help=N_("help.build.as-of"))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help=N_("help.build.out"),
)
@click.option("--offline", is_flag=True, help=N_("help.build.offline"))
@click.option("--open", "open_browser", is_flag=True, help=N_("help.build.open"))
@pass_state
def build(
    state: State,
    week: str | None,
    since: str | None,
    until: str | None,
    as_of: str | None,
    out_dir: Path | None,
    offline: bool,
    open_browser: bool,
) -> None:
    from ..pipeline import build_and_store, write_issue
    from ..store import Store

    config = state.config
    language, tz = staff_language(config), config.newsletter.tz
    now = parse_moment(as_of, tz) if as_of else datetime.now(tz)
    period = _period(config, week, since, until, now)
    out = out_dir or config.folder / "out" / period.name
    total, done = len(config.sources), []
    with (
        Store(config.store) as store,
        TerminalProgress(say(language, "progress.sources")) as progress,
    ):

        def on_source(source_result: SourceResult) -> None:
            done.append(source_result)
            progress(len(done), total)

        stored = build_and_store(config, period, now, store, offline=offline, on_source=on_source)
        result, withdrawn = stored.build, stored.withdrawn
        kept = _kept_note(store, period.name, stored.kept, config)
    paths = write_issue(result, out)
    stats = result.issue.stats
    lines = build_summary(
        period.name,
        result.issue.sources,
        result.issue.shown,
        stats.duplicates_merged,
        stats.already_sent,
        f"{out}/",
        language,
    )
    click.echo(lines[0])
    for line in [*lines[1:], *result.warnings]:
        click.echo(line, err=True)
    if kept:
        click.echo(kept, err=True)
    if withdrawn:
        click.echo(say(language, "build.unapproved", issue=period.name), err=True)
    if open_browser and not webbrowser.open(paths[0].resolve().as_uri()):
        click.echo(say(language, "build.no_browser", path=paths[0]), err=True)


def _kept_note(store: Store, issue: str, kept: str | None, config: Config) -> str | None:
    """Why the store did not take the rebuilt issue (it went out, or is going out), if so."""
    language = staff_language(config)
    if kept == "sending":
        from ..delivery.deliver import report

        return say(language, "build.kept_sending", issue=issue, left=report(store, issue).left)
    return say(language, "build.kept_sent", issue=issue) if kept else None
