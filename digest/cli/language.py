"""The language staff read in the terminal, chosen before click reads the command line.

`speak(cli, argv)` (run by main) picks it: $DIGEST_LANG, else the `newsletter.language` of
the feeds.yaml the command line names (read leniently: `digest check` on a broken file
still speaks the newsletter's language), else French. It sets it for `i18n.t`, makes
click's own words ("Usage:", "Error: …", "Show this message and exit.") come from our
catalogue, and replaces every help key (`help.build`) of the command tree by its text.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Sequence
from pathlib import Path
from weakref import WeakKeyDictionary

import click

from ..config import default_config_path
from ..i18n import (
    DOMAIN,
    N_,
    Messages,
    Nn_,
    gettext_locale_dir,
    messages,
    set_staff_language,
    staff_language,
)

# What click says through gettext that staff see: --help, usage errors, missing or invalid
# options and arguments (not "Aborted!": main says cli.aborted). These are click's own
# msgids (English sentences, not our keys), in our catalogue so that French staff read
# French; a test checks that click still says them.
CLICK_MESSAGES = (
    N_("Usage:"),
    N_("Options"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Show the version and exit."),
    N_("default: {default}"),
    N_("required"),
    N_("Error: {message}"),
    N_("Try '{command} {option}' for help."),
    N_("Missing command."),
    N_("No such command {name!r}."),
    N_("No such option {name!r}."),
    N_("Missing argument"),
    N_("Missing option"),
    N_("Missing parameter"),
    N_("Invalid value: {message}"),
    N_("Invalid value for {param_hint}: {message}"),
    N_("Option {name!r} does not take a value."),
    N_("{value!r} is not a valid {number_type}."),
    N_("{name} {filename!r} does not exist."),
    N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is a file."),
    N_("file"),
    N_("directory"),
    N_("path"),
)
CLICK_PLURALS = (
    Nn_("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    Nn_("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    Nn_("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    Nn_("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
)


def config_path(argv: Sequence[str]) -> Path:
    """The feeds.yaml the command line names (`--config PATH` or `--config=PATH`, which the
    `digest` group takes before any command), else $DIGEST_CONFIG, else ./feeds.yaml."""
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return Path(argv[index + 1])
        if arg.startswith("--config="):
            return Path(arg.removeprefix("--config="))
    return default_config_path()


def speak(command: click.Command, argv: Sequence[str]) -> str:
    """Choose the staff language for this run (see the module) and make `command` and click
    speak it; return it."""
    language = staff_language(config_path(argv))
    set_staff_language(language)
    localize_click(language)
    localize_help(command, language)
    return language


def localize_click(language: str) -> None:
    """Make click's gettext calls read our catalogue in `language`.

    click calls `gettext.gettext`, which reads the default text domain from .mo files on
    disk in the language named by $LANGUAGE: so this binds the default domain to ours and
    sets $LANGUAGE for the rest of the process (child processes, a browser opened by
    `build --open`, inherit it: harmless)."""
    gettext.bindtextdomain(DOMAIN, str(gettext_locale_dir()))
    gettext.textdomain(DOMAIN)
    os.environ["LANGUAGE"] = language


# The keys each command, option and path type had before its first translation, so the tree
# can be translated again into another language (tests run it in one process).
_KEYS: WeakKeyDictionary[object, dict[str, str | None]] = WeakKeyDictionary()


def localize_help(command: click.Command, language: str) -> None:
    """Replace each help text of the tree that is a catalogue key (`help.build`) or one of
    click's msgids (its --version help, its path type names, set when the decorators ran)
    by its text in `language`."""
    words = messages(language)
    _translate(command, ("help", "short_help", "epilog"), words)
    for param in command.params:
        _translate(param, ("help",), words)
        if isinstance(param.type, click.Path):
            _translate(param.type, ("name",), words)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            localize_help(sub, language)


def _translate(target: object, attributes: tuple[str, ...], words: Messages) -> None:
    keys = _KEYS.setdefault(target, {a: getattr(target, a, None) for a in attributes})
    for attribute, key in keys.items():
        if key and words.has(key):
            setattr(target, attribute, words.raw(key))
