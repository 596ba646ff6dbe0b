"""`digest staff ...`: thin click wiring over digest.web.staff (the console's accounts)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from ..errors import UsageError
from ..i18n import N_, say, staff_language, t
from ..store import Store
from ..web.staff import add_account, limits, remove_account
from .state import State, pass_state


def _now() -> datetime:
    return datetime.now(UTC)


@click.group("staff", help=N_("help.staff"))
def staff_group() -> None:
    pass


@staff_group.command("add", help=N_("help.staff.add"))
@click.argument("email")
@click.option("--name", default="", help=N_("help.staff.add.name"))
@pass_state
def add_command(state: State, email: str, name: str) -> None:
    password = _password()
    with Store(state.config.store) as store:
        address, created = add_account(
            store, email, name, password, config=state.config.console, now=_now()
        )
    key = N_("staff.added") if created else N_("staff.reset")
    click.echo(say(staff_language(state.config), key, email=address))


def _password() -> str:
    """From standard input when it is not a terminal (a script, a pipe: its first line),
    else typed twice without echo."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise UsageError(t("staff.no_password"), hint=t("staff.no_password_hint"))
        return line.rstrip("\r\n")
    return str(
        click.prompt(
            t("staff.password_prompt"),
            hide_input=True,
            confirmation_prompt=t("staff.password_again"),
        )
    )


@staff_group.command("list", help=N_("help.staff.list"))
@pass_state
def list_command(state: State) -> None:
    language, tz = staff_language(state.config), state.config.newsletter.tz
    live = limits(state.config.console, _now())
    with Store(state.config.store) as store:
        accounts = [(a, store.session_count(a.id, *live)) for a in store.staff_accounts()]
    if not accounts:
        click.echo(say(language, "staff.none"))
    for account, sessions in accounts:
        since = account.created_at.astimezone(tz).strftime("%Y-%m-%d")
        fields = {"email": account.email, "name": account.name or "-", "since": since}
        click.echo(say(language, "staff.line", sessions=sessions, **fields))


@staff_group.command("remove", help=N_("help.staff.remove"))
@click.argument("email")
@pass_state
def remove_command(state: State, email: str) -> None:
    with Store(state.config.store) as store:
        address = remove_account(store, email, now=_now())
    click.echo(say(staff_language(state.config), "staff.removed", email=address))
