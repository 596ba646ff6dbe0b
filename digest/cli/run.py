"""`digest run` (the cron entry) and `digest approve`: thin click wiring over the pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from ..approval import approve_issue
from ..delivery.deliver import cut_report, section_ids, section_readers
from ..errors import DigestError
from ..i18n import N_, say, staff_language, status_label
from ..lock import exclusive_run
from ..period import parse_moment
from ..pipeline import run_due
from ..schedule import item_count
from ..store import Store, StoredIssue
from .send import echo_delivery, stopping_notice
from .state import State, pass_state

if TYPE_CHECKING:
    from ..config import Config
    from ..delivery.deliver import DeliveryReport


def _clock(config: Config, as_of: str | None) -> Callable[[], datetime]:
    """Now, or `--as-of` moving forward in real time: the moment run decides and builds at.

    Delivery never sees it (`_sender`): the outbox, retries, quotas and each message's Date:
    record when mail really goes out, and a message dated weeks back is filtered as spam.
    """
    tz = config.newsletter.tz
    if as_of is None:
        return lambda: datetime.now(tz)
    start, started = parse_moment(as_of, tz), time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - started)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _sender(
    config: Config, store: Store, done: list[DeliveryReport]
) -> Callable[[str], DeliveryReport]:
    """Sending as `digest send` does, on the wall clock whatever --as-of says; each report
    is also added to `done`, so that a later issue's pause cannot hide an earlier one's."""

    def send(issue_id: str) -> DeliveryReport:
        from ..delivery.deliver import send_issue
        from ..delivery.smtp import settings_from_env
        from ..tokens import load_keys

        report = send_issue(
            config, store, issue_id, _wall_clock, smtp=settings_from_env(), keys=load_keys(),
            on_stop=stopping_notice(config.newsletter.language),
        )  # fmt: skip
        done.append(report)
        return report

    return send


@click.command("run", help=N_("help.run"))
@click.option("--force", is_flag=True, help=N_("help.run.force"))
@click.option("--as-of", "as_of", help=N_("help.run.as-of"))
@click.option("--offline", is_flag=True, help=N_("help.run.offline"))
@pass_state
def run_command(state: State, force: bool, as_of: str | None, offline: bool) -> None:
    config, language = state.config, staff_language(state.config)
    clock = _clock(config, as_of)
    done: list[DeliveryReport] = []
    with exclusive_run(config.store, "run"), Store(config.store) as store:
        try:
            outcome = run_due(config, store, clock, _sender(config, store, done), force, offline)
        except DigestError:
            for report in done:  # the issues sent before the one that stopped the run
                echo_delivery(report, language, command="digest run")
            raise
    for message in outcome.messages:
        click.echo(message, err=message in outcome.alerts)
    for report in outcome.reports:
        echo_delivery(report, language, command="digest run")
    for report in outcome.reports:  # every report said first; then exit 1 if one failed
        report.raise_for_outcome()


@click.command("approve", help=N_("help.approve"))
@click.argument("issue")
@click.option("--as-of", "as_of", help=N_("help.approve.as-of"))
@pass_state
def approve_command(state: State, issue: str, as_of: str | None) -> None:
    config = state.config
    with Store(config.store) as store:
        approval = approve_issue(config, store, issue, _clock(config, as_of)())
    click.echo(approval.message)
    for warning in approval.warnings:
        click.echo(warning, err=True)


@click.command("issues", help=N_("help.issues"))
@click.option("--limit", default=20, show_default=True, help=N_("help.issues.limit"))
@pass_state
def issues_command(state: State, limit: int) -> None:
    with Store(state.config.store) as store:
        stored = store.issues(limit)
        language, tz = staff_language(state.config), state.config.newsletter.tz
        if not stored:
            click.echo(say(language, "issues.none"))
        for issue in stored:
            built = issue.built_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            status = status_label(language, issue.status, of="issue")
            fields = {"status": status, "count": item_count(issue), "built": built}
            click.echo(say(language, "issues.line", issue=issue.id, **fields))
            if issue.status in ("sending", "sent"):
                echo_sections(store, issue, language)


def echo_sections(store: Store, issue: StoredIssue, language: str) -> None:
    """How many readers were sent each section, when some readers got a cut of the issue."""
    cuts = cut_report(store, issue.id)
    if all(c.whole for c in cuts):
        return
    got = section_readers(cuts, section_ids(issue.data))
    counts = ", ".join(f"{section} {count}" for section, count in got.items())
    skipped = sum(c.skipped for c in cuts)
    click.echo("  " + say(language, "issues.sections", sections=counts, count=skipped))
