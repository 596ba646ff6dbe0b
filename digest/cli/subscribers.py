"""`digest subscribers ...`: thin click wiring over digest.subscribers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from .. import subscribers as subs
from ..errors import EXIT_USAGE
from ..i18n import N_, say, staff_language, status_label
from ..models import Subscriber
from ..store import Store
from ..subscribers import STATUSES, Leaving, to_csv
from .state import State, pass_state


def _language(state: State) -> str:
    """What staff read: the newsletter's language, or DIGEST_LANG's."""
    return staff_language(state.config)


@contextmanager
def _store(state: State) -> Iterator[Store]:
    with Store(state.config.store) as store:
        yield store


def _now() -> datetime:
    return datetime.now(UTC)


def _theme_ids(state: State) -> list[str]:
    """The valid theme ids: feeds.yaml's `themes`, in their order."""
    return [theme.id for theme in state.config.themes]


@click.group("subscribers", help=N_("help.subscribers"))
def subscribers_group() -> None:
    pass


@subscribers_group.command("add", help=N_("help.subscribers.add"))
@click.argument("email")
@click.option("--name", default="", help=N_("help.subscribers.add.name"))
@click.option("--themes", default=None, metavar="ID,ID", help=N_("help.subscribers.add.themes"))
@pass_state
def add_command(state: State, email: str, name: str, themes: str | None) -> None:
    chosen = None if themes is None else subs.parse_themes(themes, _theme_ids(state))
    with _store(state) as store:
        found, before = subs.add(
            store,
            email,
            name=name,
            language=state.config.newsletter.language,
            now=_now(),
            source="cli",
            themes=chosen,
        )
    language = _language(state)
    status = status_label(language, found.status)
    if before is None:
        click.echo(say(language, "sub.added", email=found.email, status=status))
    elif before == found.status:
        click.echo(say(language, "sub.already", email=found.email, status=status))
    else:
        was = status_label(language, before)
        click.echo(say(language, "sub.now", email=found.email, was=was, status=status))


@subscribers_group.command("remove", help=N_("help.subscribers.remove"))
@click.argument("email")
@pass_state
def remove_command(state: State, email: str) -> None:
    with _store(state) as store:
        done = subs.remove(store, email, now=_now(), source="cli")
    click.echo(left_line(_language(state), done))


@subscribers_group.command("list", help=N_("help.subscribers.list"))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv"]),
    default="table",
    show_default=True,
    help=N_("help.subscribers.list.format"),
)
@click.option(
    "--status", type=click.Choice(STATUSES), default=None, help=N_("help.subscribers.list.status")
)
@click.option("--theme", default=None, metavar="ID", help=N_("help.subscribers.list.theme"))
@pass_state
def list_command(state: State, fmt: str, status: str | None, theme: str | None) -> None:
    if theme is not None:
        theme = subs.known_theme(theme, _theme_ids(state))
    with _store(state) as store:
        found = subs.listing(store, status, theme)
    if fmt == "csv":
        click.echo(to_csv(found, now=_now()), nl=False)
    else:
        click.echo(table(_language(state), found, _now()))


@subscribers_group.command("pause", help=N_("help.subscribers.pause"))
@click.argument("email")
@click.option(
    "--weeks",
    type=click.Choice([str(w) for w in subs.PAUSE_WEEKS]),
    default=str(subs.PAUSE_WEEKS[0]),
    show_default=True,
    help=N_("help.subscribers.pause.weeks"),
)
@pass_state
def pause_command(state: State, email: str, weeks: str) -> None:
    language = _language(state)
    with _store(state) as store:
        found = subs.find(store, email)
        until = subs.pause(store, found.id, int(weeks), now=_now(), source="cli", ip=None)
    if until is None:  # only a confirmed reader receives issues, so only one can pause
        status = status_label(language, found.status)
        click.echo(say(language, "sub.not_paused", email=found.email, status=status), err=True)
        sys.exit(EXIT_USAGE)
    click.echo(say(language, "sub.paused", email=found.email, until=f"{until:%Y-%m-%d}"))


@subscribers_group.command("resume", help=N_("help.subscribers.resume"))
@click.argument("email")
@pass_state
def resume_command(state: State, email: str) -> None:
    language = _language(state)
    with _store(state) as store:
        found = subs.find(store, email)
        resumed = subs.resume(store, found.id, now=_now(), source="cli", ip=None)
    if resumed:
        click.echo(say(language, "sub.resumed", email=found.email))
    else:
        click.echo(say(language, "sub.not_paused_now", email=found.email))


@subscribers_group.command("export", help=N_("help.subscribers.export"))
@click.option("--excel", is_flag=True, help=N_("help.subscribers.export.excel"))
@pass_state
def export_command(state: State, excel: bool) -> None:
    with _store(state) as store:
        found = subs.listing(store)
    if excel:
        # Bytes, so that the BOM and UTF-8 go out whatever the terminal's locale says.
        sys.stdout.buffer.write(to_csv(found, excel=True, now=_now()).encode("utf-8-sig"))
        sys.stdout.buffer.flush()
    else:
        click.echo(to_csv(found, now=_now()), nl=False)


@subscribers_group.command("import", help=N_("help.subscribers.import"))
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--dry-run", is_flag=True, help=N_("help.subscribers.import.dry_run"))
@pass_state
def import_command(state: State, csv_file: Path, dry_run: bool) -> None:
    with _store(state) as store:
        report = subs.import_csv(
            store,
            csv_file,
            language=state.config.newsletter.language,
            now=_now(),
            themes=_theme_ids(state),
            dry_run=dry_run,
        )
    language = _language(state)
    for line in report.problems:
        click.echo(line, err=True)
    for number, email, status in report.skipped:
        label = status_label(language, status)
        click.echo(
            say(language, "sub.import_left", line=number, email=email, status=label), err=True
        )
    counts = {"added": report.added, "confirmed": report.confirmed}
    counts |= {"unchanged": report.unchanged, "left": len(report.skipped)}
    summary = N_("sub.imported_dry") if report.dry_run else N_("sub.imported")
    click.echo(say(language, summary, bad=len(report.problems), **counts))


@subscribers_group.command("show", help=N_("help.subscribers.show"))
@click.argument("email")
@pass_state
def show_command(state: State, email: str) -> None:
    with _store(state) as store:
        record = subs.show(store, email)
    click.echo(json.dumps(record, ensure_ascii=False, indent=2))


@subscribers_group.command("erase", help=N_("help.subscribers.erase"))
@click.argument("email")
@click.option("--yes", is_flag=True, help=N_("help.subscribers.erase.yes"))
@pass_state
def erase_command(state: State, email: str, yes: bool) -> None:
    language = _language(state)
    with _store(state) as store:
        # An unknown address is said before asking anything; an erased one is not asked
        # about again (erasing it again only scrubs the store's files once more).
        ask = subs.erasable(store, email) and not yes
        if ask and not agrees(language, say(language, "sub.erase_confirm", email=email)):
            click.echo(say(language, "sub.erase_declined", email=email))
            return  # a "no" is an answer, not a failure: exit 0
        done = subs.erase(store, email, now=_now(), source="cli")
    if done.already:
        erased = status_label(language, "erased")
        click.echo(say(language, "sub.already", email=email, status=erased))
    else:
        click.echo(say(language, "sub.erased", email=email, digest=done.digest[:16]))


@subscribers_group.command("unsubscribe-mail", help=N_("help.subscribers.unsubscribe-mail"))
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@pass_state
def unsubscribe_mail_command(state: State, files: tuple[Path, ...]) -> None:
    from ..delivery.mailbox import MAX_MESSAGE_BYTES, NoToken, unsubscribe_by_mail
    from ..tokens import BadToken, load_keys

    # Not the staff language: piped from the mail server, a failure bounces this command's
    # output back to the reader who wrote, so it speaks the newsletter's language.
    keys, language = load_keys(), state.config.newsletter.language
    raws = _messages(files, MAX_MESSAGE_BYTES)
    failed = 0
    with _store(state) as store:
        for name, raw in raws:
            try:
                done = unsubscribe_by_mail(store, raw, keys, now=_now())
            except BadToken as exc:
                failed += 1
                if isinstance(exc, NoToken):
                    click.echo(say(language, "unsub.no_token", name=name), err=True)
                else:
                    click.echo(say(language, "unsub.bad_token", name=name), err=True)
                continue
            click.echo(left_line(language, done))
    if failed:
        # Piped from the mail server, this exit status bounces the email back to its sender,
        # stderr included.
        click.echo(say(language, "unsub.failed", failed=failed, total=len(raws)), err=True)
        sys.exit(EXIT_USAGE)


@subscribers_group.command("bounce-mail", help=N_("help.subscribers.bounce-mail"))
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@pass_state
def bounce_mail_command(state: State, files: tuple[Path, ...]) -> None:
    from ..delivery.bounces import MAX_MESSAGE_BYTES, bounces_in, record

    language = _language(state)
    raws = _messages(files, MAX_MESSAGE_BYTES)
    with _store(state) as store:
        for name, raw in raws:
            try:
                found = bounces_in(store, raw)
            except Exception as exc:  # a mangled report must not bounce back to a server
                error = f"{type(exc).__name__}: {exc}"
                click.echo(say(language, "bounce.unreadable", name=name, error=error), err=True)
                continue
            if not found:  # an auto-reply, a forged report...: said, never bounced back
                click.echo(say(language, "bounce.ignored", name=name), err=True)
            for bounce in found:
                subscriber = store.subscriber(bounce.subscriber_id)
                email = subscriber.email if subscriber else f"#{bounce.subscriber_id}"
                if bounce.delayed:  # ours, but only "still trying": ignored, and said so
                    click.echo(
                        say(language, "bounce.delayed", email=email, status=bounce.status),
                        err=True,
                    )
                    continue
                record(store, bounce, _now())
                if bounce.mailbox_error:
                    click.echo(say(language, "bounce.marked", email=email, status=bounce.status))
                else:
                    click.echo(say(language, "bounce.failed", email=email, status=bounce.status))


def _messages(files: tuple[Path, ...], limit: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each FILE, or of the one message a mail server pipes on stdin."""
    if not files:
        return [("stdin", sys.stdin.buffer.read(limit))]
    return [(str(f), f.read_bytes()[:limit]) for f in files]


def table(language: str, found: list[Subscriber], now: datetime) -> str:
    """The human listing: address, status (in the staff language, with a pause running at
    `now`), since when."""
    if not found:
        return say(language, "sub.none")
    heads = (
        say(language, "sub.head.email"),
        say(language, "sub.head.status"),
        say(language, "sub.head.since"),
    )
    rows = [heads]
    rows += [(s.email, _status(language, s, now), f"{s.updated_at:%Y-%m-%d}") for s in found]
    email_width = max(len(row[0]) for row in rows)
    status_width = max(len(row[1]) for row in rows)
    lines = [f"{a:<{email_width}}  {b:<{status_width}}  {c}" for a, b, c in rows]
    lines.append(say(language, "sub.count", count=len(found)))
    return "\n".join(lines)


def _status(language: str, subscriber: Subscriber, now: datetime) -> str:
    label = status_label(language, subscriber.status)
    if subs.paused(subscriber, now) and subscriber.paused_until is not None:
        until = f"{subscriber.paused_until:%Y-%m-%d}"
        return say(language, "sub.status_paused", status=label, until=until)
    return label


def left_line(language: str, done: Leaving) -> str:
    """What `remove` and `unsubscribe-mail` say about one address: done, or already so."""
    email = done.email or f"#{done.subscriber_id}"
    status = status_label(language, done.before)
    if not done.changed:
        return say(language, "sub.already", email=email, status=status)
    if done.before == "confirmed":
        return say(language, "sub.removed", email=email)
    return say(language, "sub.removed_was", email=email, status=status)


def agrees(language: str, question: str) -> bool:
    """Ask until the answer is yes or no; Enter alone, or no input left (EOF), is no.

    The answers taken are the catalogue's, beside the question's `[o/N]`: French staff type
    o/oui, or y/yes out of habit."""
    yes = say(language, "sub.answers_yes").split()
    no = say(language, "sub.answers_no").split()
    while True:
        click.echo(question, nl=False)
        line = sys.stdin.readline()
        if not line or not sys.stdin.isatty():
            click.echo()  # a terminal echoes the answer and its Enter; a pipe does not
        if not line:  # no input left: no answer is a no
            return False
        answer = line.strip().lower()
        if answer in yes:
            return True
        if not answer or answer in no:
            return False
        click.echo(say(language, "sub.answer_yes_no"), err=True)
