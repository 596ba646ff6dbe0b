"""The one exception tree of digest: every failure a user can act on is a DigestError.

    DigestError (message, hint, exit_code=1)
    ├── UsageError         a bad command line, or a request that cannot be done: exit 2
    │   └── EditConflict   an overrides file changed since staff loaded it (digest.editing)
    ├── ConfigError        bad feeds.yaml or overrides file: lists every problem, exit 2
    ├── SettingError       a setting one command needs is missing or wrong (DIGEST_SECRET,
    │                      DIGEST_SMTP_URL, newsletter.sender), exit 2
    ├── BadAddress         not a plain, valid mailbox address, exit 2 (digest.subscribers)
    ├── UnknownTheme       a theme id feeds.yaml does not declare, exit 2 (digest.subscribers)
    ├── BadToken           a link's token is malformed, forged or for another purpose, exit 2
    │   ├── ExpiredToken   a confirmation link past its days (digest.tokens)
    │   └── NoToken        an unsubscribe email without a token (digest.delivery.mailbox)
    ├── SourceError        one source could not be read (fetch or parse)
    │   ├── FetchError     network, HTTP status, size or time limits
    │   └── ParseError     the bytes are not a usable feed or recap
    ├── RenderError        a template or the MJML failed; names the template and line
    ├── DeliveryError      SMTP refused the run
    │   ├── DeliveryPaused   the server asked us to stop; a later run carries on
    │   ├── DeliveryInterrupted  SIGINT/SIGTERM stopped the run: exit 130/143
    │   └── DeliveryRefused  every message tried was refused (digest.delivery.deliver)
    ├── StoreError         the SQLite store cannot be opened, read or written (read-only,
    │                      damaged, full disk): mapped in one place, digest.store.faults
    │   └── StoreLocked    another process held its write lock past the busy timeout
    └── AlreadyRunning     another run holds the lock, exit 75

The classes that carry a stage's own data (a token, a delivery report) live in that stage's
module; the rest live here. A test keeps this drawing and the code in step.

The CLI catches DigestError in one place and prints the message and the hint; a traceback
is shown only with --debug. A message quotes what a file said through `quoted`/`shortened`,
never whole.
"""

from __future__ import annotations

import reprlib

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75
# A run a signal stopped cleanly exits as a shell reports it: 128 + the signal's number.
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # SIGTERM


QUOTED_MAX_CHARS = 80

_REPR = reprlib.Repr()
# Few levels and items: a value built of YAML aliases may stand for billions of strings, and
# reprlib only ever looks at the part it prints.
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4
_REPR.maxstring = _REPR.maxother = QUOTED_MAX_CHARS


def quoted(value: object) -> str:
    """`value` as an error message shows it: its repr, cut to about 80 characters.

    Why: messages end up in digest.json, the store and the terminal; a value a file
    provides (a 1 MiB line, a nested list) must not come out whole.
    """
    return shortened(_REPR.repr(value))


def shortened(text: str) -> str:
    """`text` cut to about 80 characters, for a message that quotes what a file said."""
    return text if len(text) <= QUOTED_MAX_CHARS else text[: QUOTED_MAX_CHARS - 1] + "…"


class DigestError(Exception):
    """Base of every error digest reports to a person."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(DigestError):
    """The command line asks for something that does not exist or cannot be done (a bad
    --week, an unknown issue): one message and a hint, no "configuration" heading."""

    exit_code = EXIT_USAGE


class ConfigError(DigestError):
    """A file staff wrote is wrong (feeds.yaml, an overrides file); `problems` lists every
    one, under `heading`, which names that file ("2 problems in the overrides file …:").

    The raiser words the heading in the staff language (checking.config_error does):
    errors.py is below the message catalogue, which raises ConfigError itself."""

    exit_code = EXIT_USAGE

    def __init__(
        self, problems: list[str], *, heading: str, hint: str | None = None, path: str = ""
    ) -> None:
        self.problems = list(problems)
        where = f"{path}: " if path else ""
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where}{heading}\n{body}", hint)


class SettingError(DigestError):
    """A setting that only some commands need (sending, the site) is missing or invalid:
    bad configuration, found when the command needs it rather than by `digest check`."""

    exit_code = EXIT_USAGE


class SourceError(DigestError):
    """A source could not be read. Sources turn this into a SourceResult, never an abort."""


class FetchError(SourceError):
    """Network failure, bad HTTP status, too large, too slow, or a refused redirect."""


class ParseError(SourceError):
    """The content is not a usable feed or recap."""


class RenderError(DigestError):
    """A template or the MJML compiler failed."""


class DeliveryError(DigestError):
    """The mail server refused the run."""


class StoreError(DigestError):
    """The SQLite store cannot be opened, migrated or written."""


class StoreLocked(StoreError):
    """Another process held the store's write lock for longer than the busy timeout: nothing
    is wrong with the file, and the same call may succeed a moment later (the site answers
    503 with Retry-After)."""


class AlreadyRunning(DigestError):
    """Another `digest` run holds the lock."""

    exit_code = EXIT_LOCKED
