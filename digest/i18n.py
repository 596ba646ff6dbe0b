"""Every sentence staff and readers read comes from the gettext catalogue in digest/locale.

    say(language, key, **fields) -> str       one message, its {placeholders} filled in
    messages(language, folder) -> Messages    a catalogue, the staff's own .po file first;
                                              say(messages, key) and _(key) in templates
    t(key, **fields) -> str                   say() in the staff language set by the CLI
    staff_language(config_or_path) -> str     DIGEST_LANG, else newsletter.language, else fr

Message ids are symbolic keys with a namespace (`run.already_sent`, `email.featured`); the
French and English texts live in digest/locale/<lang>/LC_MESSAGES/digest.po (see
docs/messages.md). Placeholders are Python brace fields; for every int field `n` a message
may also use `{n_s}`, the plural "s" of the language by its one CLDR plural rule (French: 0
and 1 are singular; English: only 1). A missing key raises MissingMessage, never shows the
key to a reader.
"""

from __future__ import annotations

import atexit
import functools
import gettext
import os
import shutil
import string
import tempfile
from collections.abc import Callable
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Protocol

import yaml
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

from .errors import ConfigError

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "digest"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
STAFF_LANGUAGE_ENV = "DIGEST_LANG"
# Where staff put their own wording, inside the config's `templates:` folder: locale/fr.po.
OVERRIDES_FOLDER = "locale"


class MissingMessage(KeyError):
    """A key that is in no catalogue of the language: a bug, caught by the tests."""

    def __str__(self) -> str:
        key, language = self.args
        return f"no message {key!r} in the {language!r} catalogue"


def N_(key: str) -> str:
    """Mark `key` for extraction where it is only named, not said yet; returns it as is."""
    return key


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a singular/plural pair of msgids for extraction (click's ngettext calls)."""
    return singular, plural


# -- the catalogues ----------------------------------------------------------------------


def catalogue_files(language: str, folder: Path = LOCALE_DIR) -> tuple[Path, Path]:
    """The .po and .mo files of `language` under `folder` (digest/locale by default)."""
    base = folder / language / "LC_MESSAGES" / DOMAIN
    return base.with_suffix(".po"), base.with_suffix(".mo")


def read_catalogue(po: Path, language: str) -> Catalog:
    """The entries of `po`; PoFileError (or UnicodeDecodeError) on a line Babel cannot read,
    rather than the entry silently left out."""
    with po.open("rb") as stream:
        return read_po(stream, locale=language, abort_invalid=True)


def compile_po(po: Path, language: str) -> bytes:
    """The .mo bytes of `po`, compiled by Babel as `pybabel compile` does (fuzzy left out)."""
    buffer = BytesIO()
    write_mo(buffer, read_catalogue(po, language))
    return buffer.getvalue()


def load_catalogue(po: Path, mo: Path, language: str) -> gettext.GNUTranslations:
    """The catalogue of `po`: its compiled `mo` when that is at least as new, else `po`
    compiled in memory. Why: a plain `pip install -e .` has no .mo, and an edited .po must
    never be served stale."""
    if _fresh(mo, po):
        with mo.open("rb") as stream:
            return gettext.GNUTranslations(stream)
    return gettext.GNUTranslations(BytesIO(compile_po(po, language)))


def _fresh(mo: Path, po: Path) -> bool:
    try:
        return mo.stat().st_mtime_ns >= po.stat().st_mtime_ns
    except OSError:  # no .mo (or no .po: then loading the .po says so)
        return False


def gettext_locale_dir(folder: Path = LOCALE_DIR) -> Path:
    """A folder of up-to-date <lang>/LC_MESSAGES/digest.mo files for gettext's own lookups
    (click's words go through `gettext.gettext`, which only reads .mo files from disk).

    The package's folder, its missing or stale .mo files compiled now, as Python writes
    __pycache__ (`make` compiles them too); in a read-only install, a private temporary
    folder, removed at exit."""
    files = [(language, *catalogue_files(language, folder)) for language in LANGUAGES]
    try:
        for language, po, mo in files:
            if not _fresh(mo, po):
                _write_atomically(mo, compile_po(po, language))
    except OSError:
        private = Path(tempfile.mkdtemp(prefix="digest-locale-"))
        atexit.register(shutil.rmtree, private, True)
        for language, po, _mo in files:
            target = catalogue_files(language, private)[1]
            target.parent.mkdir(parents=True)
            target.write_bytes(compile_po(po, language))
        return private
    return folder


def _write_atomically(path: Path, data: bytes) -> None:
    """Two processes starting at once both write a whole file; gettext never reads half."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide it from the server's other users
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class _Strict(gettext.NullTranslations):
    """The end of every fallback chain: a key no catalogue knows is an error."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    def gettext(self, message: str) -> str:
        raise MissingMessage(message, self.language)


@cache
def _package(language: str) -> gettext.GNUTranslations:
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}: one of {LANGUAGES}")
    po, mo = catalogue_files(language)
    catalogue = load_catalogue(po, mo, language)
    catalogue.add_fallback(_Strict(language))
    return catalogue


def overrides_file(folder: Path, language: str) -> Path:
    """Where staff put their own wording for `language`: <templates>/locale/<lang>.po."""
    return folder / OVERRIDES_FOLDER / f"{language}.po"


# -- messages ----------------------------------------------------------------------------


class Messages:
    """One language's messages: the staff's .po first (if any), then the package's.

    Python code says `say(messages, "email.week", range=...)`; templates get the object as
    `_` and say `_("email.featured")`.
    """

    def __init__(
        self,
        language: str,
        translations: gettext.NullTranslations,
        polish: Callable[[str], str] | None = None,
    ) -> None:
        self.language = language
        self._translations = translations
        self._polish = polish
        self._polished: dict[str, str] = {}

    def polished(self, polish: Callable[[str], str]) -> Messages:
        """The same messages, each passed through `polish` before its fields are filled in
        (the site's French typography: staff's .po files need only ordinary spaces)."""
        return Messages(self.language, self._translations, polish)

    def raw(self, key: str) -> str:
        """The text of `key`, placeholders unfilled; MissingMessage if no catalogue has it."""
        if self._polish is None:
            return self._translations.gettext(key)
        text = self._polished.get(key)
        if text is None:
            text = self._polished[key] = self._polish(self._translations.gettext(key))
        return text

    def has(self, key: str) -> bool:
        try:
            self.raw(key)
        except MissingMessage:
            return False
        return True

    def __call__(self, key: str, /, **fields: object) -> str:
        """The text of `key` with `fields` filled in, plus `{<int field>_s}` plurals."""
        return fill(self.raw(key), self.language, fields)


def fill(template: str, language: str, fields: dict[str, object]) -> str:
    """`template` formatted with `fields` and, for each int field `n`, `n_s`: "s" when the
    language's plural rule calls `n` plural, else ""."""
    plurals = {
        f"{name}_s": "s" if is_plural(language, value) else ""
        for name, value in fields.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    return template.format(**fields, **plurals)


def messages(language: str, folder: Path | None = None) -> Messages:
    """The messages of `language`, with the staff's `<folder>/locale/<lang>.po` first when
    `folder` (the config's `templates:`) holds one."""
    override = overrides_file(folder, language) if folder is not None else None
    try:
        stamp = override.stat().st_mtime_ns if override is not None else None
    except OSError:
        stamp = None
    return _messages(language, override if stamp is not None else None, stamp)


@lru_cache(maxsize=64)
def _messages(language: str, override: Path | None, stamp: int | None) -> Messages:
    """Cached by the override file's modification time, so an edited file is read again.
    A staff file with problems is refused whole (ConfigError), before any reader sees it."""
    package = _package(language)
    if override is None:
        return Messages(language, package)
    problems = override_problems(override, language)
    if problems:
        raise _refused(override, problems)
    staff = gettext.GNUTranslations(BytesIO(compile_po(override, language)))
    staff.add_fallback(package)
    return Messages(language, staff)


def override_problems(po: Path, language: str) -> list[str]:
    """What is wrong with a staff .po (for `digest check`, and before using it): a file
    Babel cannot read, a key digest does not have (a typo), a placeholder digest does not
    give that message, or braces that do not parse."""
    try:
        entries = [m for m in read_catalogue(po, language) if m.id and m.string]
    except (OSError, UnicodeDecodeError, PoFileError) as exc:
        return [t("i18n.override.unreadable", path=po, error=exc)]
    problems = []
    for entry in entries:
        key = entry.id if isinstance(entry.id, str) else entry.id[0]
        where = f"{po}:{entry.lineno}"
        known = _given_fields(key)
        if known is None:
            problems.append(t("i18n.override.unknown", where=where, key=key))
            continue
        texts = [entry.string] if isinstance(entry.string, str) else list(entry.string or ())
        allowed = known | {f"{name}_s" for name in known}
        unknown = sorted(set().union(*map(_fields_or_error, texts)) - allowed)
        if unknown:
            shown = ", ".join(_braced(name) for name in unknown)
            given = ", ".join(_braced(name) for name in sorted(known)) or "—"
            problems.append(
                t("i18n.override.fields", where=where, key=key, fields=shown, given=given)
            )
    return problems


def check_overrides(folder: Path) -> list[ConfigError]:
    """The problems of each staff .po in `folder`/locale, one ConfigError per file."""
    errors = []
    for language in LANGUAGES:
        po = overrides_file(folder, language)
        if po.exists() and (problems := override_problems(po, language)):
            errors.append(_refused(po, problems))
    return errors


def _refused(po: Path, problems: list[str]) -> ConfigError:
    heading = t("error.problems", count=len(problems), about=po)
    return ConfigError(problems, heading=heading, hint=t("i18n.override.hint"))


def _braced(name: str) -> str:
    return name if name == "{" else "{" + name + "}"


def _given_fields(key: str) -> set[str] | None:
    """The fields the code gives `key`, as the package's texts use them (`{n_s}` means `n`),
    or None when no catalogue has it."""
    try:
        texts = [_package(language).gettext(key) for language in LANGUAGES]
    except MissingMessage:
        return None
    names = set().union(*map(_fields_or_error, texts))
    return {name.removesuffix("_s") if name.endswith("_s") else name for name in names}


def _fields_or_error(text: str) -> set[str]:
    """The placeholder names of `text`; {"{"} when its braces do not parse (a lone "{")."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"{"}


def say(language: str | Messages, key: str, /, **fields: object) -> str:
    """The message `key` in `language` (fr or en: the package's catalogue), or from
    `language`'s Messages (staff overrides included), its placeholders filled in."""
    words = language if isinstance(language, Messages) else messages(language)
    return words(key, **fields)


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@functools.lru_cache(maxsize=1024)
def is_plural(language: str, count: int) -> bool:
    """Whether `count` takes the plural in `language`: CLDR's rule, the project's only one.
    Kept: Babel evaluates the rule anew each time, and a build asks it for every item's
    reason (10,000 items, a handful of different counts)."""
    return _locale(language).plural_form(count) != "one"


# Statuses as staff read them (CSV and JSON keep the raw values: a contract). Literal keys,
# so that `make messages` finds them.
_STATUSES = {
    "sub": {
        "pending": N_("sub.status.pending"),
        "confirmed": N_("sub.status.confirmed"),
        "unsubscribed": N_("sub.status.unsubscribed"),
        "bounced": N_("sub.status.bounced"),
        "erased": N_("sub.status.erased"),
    },
    "row": {
        "deferred": N_("report.status.deferred"),
        "failed": N_("report.status.failed"),
        "bounced": N_("report.status.bounced"),
        "pending": N_("report.status.pending"),
    },
    "issue": {
        "built": N_("issue.status.built"),
        "approved": N_("issue.status.approved"),
        "sending": N_("issue.status.sending"),
        "sent": N_("issue.status.sent"),
        "skipped": N_("issue.status.skipped"),
    },
}


def status_label(language: str, status: str, of: str = "sub") -> str:
    """A status as staff read it (`of`: "sub" a subscriber's, "row" a message's in the
    outbox, "issue" an issue's); the raw value if it has no label."""
    key = _STATUSES[of].get(status)
    return say(language, key) if key else status


# -- which language staff read -----------------------------------------------------------


class _Newsletter(Protocol):
    @property
    def language(self) -> str: ...


class Configured(Protocol):
    """Anything with `newsletter.language`: a Config (i18n must not import config.py)."""

    @property
    def newsletter(self) -> _Newsletter: ...


def _from_env() -> str | None:
    value = os.environ.get(STAFF_LANGUAGE_ENV, "").strip().lower()
    return value if value in LANGUAGES else None


def staff_language(source: Configured | Path) -> str:
    """The language of staff output: $DIGEST_LANG (fr or en), else the newsletter's, else
    French. `source` is a loaded config, or the path of a feeds.yaml that may be broken or
    missing: then `newsletter.language` is read leniently, anything odd meaning French."""
    chosen = _from_env()
    if chosen is not None:
        return chosen
    if isinstance(source, Path):
        return _sniff(source)
    return source.newsletter.language


def _sniff(path: Path) -> str:
    """newsletter.language from a feeds.yaml that config.py may yet refuse (digest check on a
    broken file still speaks the newsletter's language)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        language = data["newsletter"]["language"]
    except Exception:  # unreadable, not YAML, not a mapping, no such key: all mean French
        return DEFAULT_LANGUAGE
    return language if isinstance(language, str) and language in LANGUAGES else DEFAULT_LANGUAGE


_staff: str | None = None


def set_staff_language(language: str) -> None:
    """Set the language `t()` speaks for the rest of the process (the CLI's main does)."""
    global _staff
    if language not in LANGUAGES:
        raise ValueError(f"no catalogue for language {language!r}: one of {LANGUAGES}")
    _staff = language


def current_staff_language() -> str:
    """What set_staff_language set; before that, $DIGEST_LANG or French."""
    return _staff or _from_env() or DEFAULT_LANGUAGE


def t(key: str, /, **fields: object) -> str:
    """The message `key` in the staff language: for errors raised deep in the library."""
    return say(current_staff_language(), key, **fields)
