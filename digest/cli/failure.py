"""How a DigestError reads in the terminal: its message after "error:", then its hint after
"hint:", both in the staff language ("erreur :", "conseil :" in French), on stderr."""

from __future__ import annotations

import click

from ..errors import DigestError
from ..i18n import t


def show_error(error: DigestError) -> None:
    click.echo(t("cli.error", message=error.message), err=True)
    if error.hint:
        click.echo(t("cli.hint", hint=error.hint), err=True)
