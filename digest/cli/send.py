"""`digest send`, `digest report` and `digest retry`: thin click wiring over digest.delivery."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from ..delivery.cuts import thin_choices
from ..delivery.deliver import (
    CutReport,
    DeliveryInterrupted,
    DeliveryPaused,
    DeliveryReport,
    cut_report,
    default_issue,
    default_test_issue,
    problems,
    report,
    send_issue,
    sendable_issue,
)
from ..delivery.outcome import write_csv
from ..delivery.proof import send_proof
from ..delivery.retry import retry_failed
from ..delivery.smtp import settings_from_env
from ..delivery.stopping import Notify, Stop
from ..errors import UsageError
from ..i18n import N_, say, staff_language, status_label, t
from ..lock import exclusive_run
from ..period import unknown_issue_hint
from ..schedule import item_count
from ..store import PUBLISHED, Store
from ..tokens import load_keys
from .progress import TerminalProgress
from .state import State, pass_state

if TYPE_CHECKING:
    from ..config import Config

PREVIEW = 10  # addresses shown by --dry-run


def _now() -> datetime:
    return datetime.now(UTC)


@click.command("send", help=N_("help.send"))
@click.option("--issue", "issue_id", metavar="ISSUE", help=N_("help.send.issue"))
@click.option("--to", "address", metavar="ADDRESS", help=N_("help.send.to"))
@click.option("--dry-run", is_flag=True, help=N_("help.send.dry-run"))
@pass_state
def send_command(state: State, issue_id: str | None, address: str | None, dry_run: bool) -> None:
    config = state.config
    language = staff_language(config)
    if dry_run:
        with Store(config.store) as store:
            if issue := _pick(config, store, issue_id, test=bool(address)):
                _preview(config, store, issue, address)
        return
    keys, smtp = load_keys(), settings_from_env()  # missing settings fail before anything
    if address:
        with Store(config.store) as store:
            if not (issue := _pick(config, store, issue_id, test=True, quiet=True)):
                raise UsageError(
                    say(language, "send.none_stored"), hint=say(language, "send.none_stored_hint")
                )
            message_id = send_proof(config, store, issue, address, _now, smtp=smtp, keys=keys)
            stored = store.issue(issue)
        click.echo(
            say(language, "send.test_copy", issue=issue, address=address, message_id=message_id)
        )
        if stored is not None and stored.status not in PUBLISHED:
            # The copy's "view in browser" link is the archive page, published once sending.
            click.echo(say(language, "send.test_copy_view", issue=issue), err=True)
        return
    lock = exclusive_run(config.store, f"send {issue_id or ''}".strip())
    with (
        lock,
        Store(config.store) as store,
        TerminalProgress(say(language, "progress.sending")) as bar,
    ):
        if not (issue := _pick(config, store, issue_id)):
            return
        try:
            result = send_issue(
                config, store, issue, _now, smtp=smtp, keys=keys, on_progress=bar,
                on_stop=stopping_notice(language),
            )  # fmt: skip
        except (DeliveryPaused, DeliveryInterrupted) as exc:
            bar.finish()
            echo_delivery(exc.report, language)
            raise
    echo_delivery(result, language)
    result.raise_for_outcome()


def _pick(
    config: Config, store: Store, issue_id: str | None, test: bool = False, quiet: bool = False
) -> str | None:
    """The issue named, checked; else the default one, named on stderr with what it is (staff
    must see which issue goes out); None if there is none (said so, unless `quiet`: the
    caller reports it as an error)."""
    if issue_id:
        return sendable_issue(store, issue_id).id
    language, tz = staff_language(config), config.newsletter.tz
    if test:
        found = default_test_issue(config, store)
    else:
        choice = default_issue(config, store, _now())
        for due in choice.passed_over:
            deadline = due.deadline.strftime("%Y-%m-%d %H:%M")
            click.echo(
                say(language, "send.passed_late", issue=due.issue_id, deadline=deadline), err=True
            )
        found = choice.issue
    if found is None:
        if not quiet:
            click.echo(say(language, "send.nothing"))
        return None
    built = found.built_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    status = status_label(language, found.status, of="issue")
    fields = {"status": status, "count": item_count(found), "built": built}
    click.echo(say(language, "send.picked", issue=found.id, **fields), err=True)
    return found.id


def _preview(config: Config, store: Store, issue: str, address: str | None) -> None:
    language = staff_language(config)
    if address:
        click.echo(say(language, "send.would_test", issue=issue, address=address))
        return
    now = datetime.now(UTC)
    thin = _thin_choices(config, store, issue, now)
    count, first = store.recipients_preview(issue, PREVIEW, now, thin)
    click.echo(say(language, "send.would_send", issue=issue, count=count))
    for email in first:
        click.echo(f"  {email}")
    if count > len(first):
        click.echo(say(language, "send.and_more", count=count - len(first)))
    if skipped := store.audience_with_themes(thin, now):
        click.echo(say(language, "send.would_skip", count=skipped))


def _thin_choices(config: Config, store: Store, issue: str, now: datetime) -> set[str]:
    """The theme choices a send starting now would skip (too thin); none once started."""
    stored = store.issue(issue)
    if stored is None or store.audience(issue):
        return set()
    return thin_choices(config, stored.data, store.audience_theme_choices(now))


def stopping_notice(language: str) -> Notify:
    """What to say on stderr when Ctrl-C or SIGTERM arrives mid-send, and again."""

    def notice(stop: Stop) -> None:
        key = N_("send.stopping_now") if stop.at_once else N_("send.stopping")
        click.echo(say(language, key, signal=stop.name), err=True)

    return notice


def echo_delivery(result: DeliveryReport, language: str, command: str = "digest send") -> None:
    """Where the delivery stands (`digest send`, `digest run`, `digest report`); `command` is
    the one whose next run retries the deferred addresses: the one that was run."""
    counts = {k: getattr(result, k) for k in ("sent", "deferred", "failed", "bounced")}
    counts |= {"pending": result.pending, "audience": result.audience}
    click.echo(say(language, "delivery.summary", issue=result.issue_id, **counts))
    if result.skipped:
        click.echo(say(language, "delivery.skipped", count=result.skipped))
    if result.later:
        why = result.later
        click.echo(
            say(language, "delivery.later", issue=result.issue_id, pending=result.pending, why=why)
        )
    if result.deferred and not result.paused:
        click.echo(say(language, "delivery.deferred_next", command=command), err=True)


@click.command("report", help=N_("help.report"))
@click.argument("issue")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv"]),
    default="table",
    show_default=True,
    help=N_("help.report.format"),
)
@pass_state
def report_command(state: State, issue: str, fmt: str) -> None:
    with Store(state.config.store) as store:
        if store.issue(issue) is None:
            raise UsageError(
                t("delivery.error.no_issue", issue=issue), hint=unknown_issue_hint(issue)
            )
        counts = report(store, issue)
        if fmt == "csv":
            write_csv(sys.stdout, problems(store, issue))
            return
        language = staff_language(state.config)
        echo_delivery(counts, language)
        echo_cuts(cut_report(store, issue), language)
        for p in problems(store, issue):
            status = status_label(language, "bounced" if p.bounced else p.status, of="row")
            click.echo(f"  {p.email:<40} {status:<15} {p.last_error}")
    if counts.audience == 0:
        click.echo(say(language, "report.not_sent_yet", issue=issue), err=True)


def echo_cuts(cuts: list[CutReport], language: str) -> None:
    """Who got which sections: one line per cut, when readers chose themes."""
    if all(c.whole for c in cuts):
        return
    click.echo(say(language, "report.cuts"))
    for cut in cuts:
        click.echo("  " + cut_line(cut, language))


def cut_line(cut: CutReport, language: str) -> str:
    if cut.whole:
        sections = say(language, "report.cut_whole")
    else:
        common = say(language, "report.cut_common")
        sections = ", ".join((common, *cut.sections))
    fields = {"sent": cut.sent, "skipped": cut.skipped}
    return say(language, "report.cut", sections=sections, count=cut.readers, **fields)


@click.command("retry", help=N_("help.retry"))
@click.argument("issue")
@pass_state
def retry_command(state: State, issue: str) -> None:
    language = staff_language(state.config)
    with Store(state.config.store) as store:
        retried = retry_failed(store, issue, _now())
    if not retried.reopened:
        click.echo(say(language, "retry.nothing", issue=issue))
        return
    click.echo(say(language, "retry.done", issue=issue, count=retried.reopened))
