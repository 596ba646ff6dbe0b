"""Subscribers: addresses, their status and the consent log, over the store.

Status moves only along documented paths: a web subscription creates `pending` (double
opt-in), `confirm` moves pending to `confirmed`, `unsubscribe` moves anything to
`unsubscribed`; staff (`add`, `import`) record `confirmed` directly with their consent source.
Every change writes a consent_log row (event, when, source, IP, and the themes it set).

Themes: a subscriber receives the themes it chose, or every theme when it chose none. Staff
set them (`add --themes`, an import's `themes` column); the subscribe form's choice waits
with the pending address and is applied when it is confirmed. A confirmed reader's themes
are never changed by the form, which anyone can send with anyone's address.

The preference centre (web/preferences.py, reached with a signed link of its own): a
confirmed reader changes their themes and name, pauses for PAUSE_WEEKS (no issue is sent
to them until the pause ends; delivery then resumes by itself) or resumes at once. Themes,
pauses and resumptions go in the consent log; every change applies from the next issue.
`erase` (GDPR) removes the
address, name and IPs, from every table (the outbox's error texts quote addresses) and from
the free pages and WAL of the store file, and keeps only an anonymised record: the row id and
a SHA-256 of the normalised address in the consent log.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from email_validator import EmailNotValidError, validate_email

from . import chars
from .errors import DigestError, StoreError, UsageError, shortened
from .i18n import t
from .models import Subscriber
from .spreadsheet import guarded, unguarded

if TYPE_CHECKING:
    from .store import Store

STATUSES = ("pending", "confirmed", "unsubscribed", "bounced")
MAX_EMAIL_LENGTH = 254  # RFC 5321's forward-path limit, minus the angle brackets
MAX_NAME_LENGTH = 200
PAUSE_WEEKS = (4, 8)  # the pauses a reader may choose


class BadAddress(DigestError):
    """An email address that is not a plain, valid mailbox address."""

    exit_code = 2


class UnknownTheme(DigestError):
    """A theme id that feeds.yaml's `themes` does not declare."""

    exit_code = 2


class ImportRow(NamedTuple):
    line: int
    email: str
    name: str
    themes: tuple[str, ...] | None  # None: the file has no themes column


@dataclass(frozen=True)
class Leaving:
    """What an unsubscribe did, for the staff's report."""

    subscriber_id: int
    email: str | None  # None once erased
    before: str  # changed: the status it left; unchanged: `unsubscribed` or `erased`
    changed: bool


@dataclass(frozen=True)
class ImportLine:
    """What an import does (or, dry run, would do) with one good row of the file."""

    line: int
    email: str
    name: str
    themes: tuple[str, ...] | None  # None: the file has no themes column
    outcome: str  # one of IMPORT_OUTCOMES
    status: str | None  # the address's status before the import (None: new)


# added: a new address; confirmed: a pending one confirmed; unchanged: already confirmed;
# left: unsubscribed or bounced, left as it is.
IMPORT_OUTCOMES = ("added", "confirmed", "unchanged", "left")
IMPORT_BATCH = 1000  # rows written per transaction


@dataclass(frozen=True)
class ImportReport:
    added: int
    confirmed: int
    unchanged: int
    skipped: tuple[tuple[int, str, str], ...]  # (line, email, status) of those left alone
    problems: tuple[str, ...]
    lines: tuple[ImportLine, ...] = ()  # every good row, in the file's order
    dry_run: bool = False  # True: nothing was written


def normalise_email(text: str) -> str:
    """The address, checked and normalised (lower case, IDN domain in ASCII); BadAddress if not.

    Only a bare address is accepted: no display name ("Name <a@b>"), no line breaks (header
    injection), nothing over 254 characters. No DNS lookup: this runs inside a web request.
    """
    if any(c in text for c in "\r\n\0") or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise BadAddress(t("sub.bad.control"))
    text = text.strip()
    if not text:
        raise BadAddress(t("sub.bad.empty"))
    if len(text) > MAX_EMAIL_LENGTH:
        raise BadAddress(t("sub.bad.too_long", length=MAX_EMAIL_LENGTH))
    if any(c in text for c in '<>"(),;:[] \t'):
        raise BadAddress(t("sub.bad.not_bare"))
    try:
        valid = validate_email(
            text, check_deliverability=False, allow_smtputf8=False, allow_display_name=False
        )
    except EmailNotValidError as exc:
        raise BadAddress(t("sub.bad.invalid", reason=exc)) from exc
    # Mailbox providers treat the local part case-insensitively in practice: one person, one row.
    return (valid.ascii_email or valid.normalized).lower()


def email_hash(address: str) -> str:
    """What erasure keeps of an address: enough to recognise it, not to read it."""
    return hashlib.sha256(b"digest-erased:" + address.encode()).hexdigest()


def clean_name(name: str | None) -> str:
    text = " ".join((name or "").split())
    return "".join(c for c in text if c.isprintable())[:MAX_NAME_LENGTH]


def mask_address(address: str) -> str:
    """'a•••@example.org': enough for its owner to know it, not for anyone else to read it
    off a page (a forwarded unsubscribe link shows only this)."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}" if local else "•••"


def theme_choice(ids: Iterable[str], known: Collection[str]) -> tuple[str, ...]:
    """The chosen theme ids, sorted and each once (none: every theme); UnknownTheme naming
    the valid ids if one is not among `known` (feeds.yaml's `themes`, in their order)."""
    chosen = tuple(sorted({i for i in ids if i}))
    # An id is quoted as typed, cut: it may be a whole hostile CSV cell.
    unknown = [shortened(i) for i in chosen if i not in known]
    if unknown:
        valid = ", ".join(known) if known else t("sub.themes.none_declared")
        raise UnknownTheme(
            t("sub.themes.unknown", themes=", ".join(unknown[:5]), valid=valid),
            hint=t("sub.themes.unknown_hint"),
        )
    return chosen


def known_theme(text: str, known: Collection[str]) -> str:
    """One theme id, checked: UnknownTheme naming the valid ids if it is not one."""
    (theme,) = theme_choice([text.strip() or repr(text)], known)
    return theme


def parse_themes(text: str, known: Collection[str]) -> tuple[str, ...]:
    """`theme_choice` of ids written out: separated by commas, spaces or both."""
    return theme_choice(re.split(r"[\s,]+", text.strip()), known)


def form_themes(values: Iterable[str], known: Collection[str]) -> tuple[str, ...]:
    """The subscribe form's `themes` fields: the known ids among them, sorted, each once.
    Others are ignored, not refused: a form copied onto another site may still offer a
    theme removed since, and its reader must still be able to subscribe."""
    return tuple(sorted({v for v in values if v in known}))


def request_subscription(
    store: Store,
    address: str,
    *,
    language: str,
    now: datetime,
    source: str,
    ip: str | None,
    themes: tuple[str, ...] = (),
) -> int | None:
    """A web subscription: the id a confirmation email is now owed to, or None if none is.

    New, pending, unsubscribed and bounced addresses (re)start double opt-in and are owed a
    confirmation email (store/confirmations.py); a confirmed one gets nothing. The caller
    answers the same page either way, and the work is the same too, so that neither the page
    nor its timing tells whether an address is subscribed: one transaction, holding the same
    "owed" update whatever the state (the store marks only pending rows, so a confirmed
    one is left as it is). `themes` (none: every theme) wait with the pending address and
    are applied when it is confirmed; the same update leaves a confirmed reader's as they
    are.
    """
    with store.transaction():
        current = store.subscriber_by_email(address)
        if current is None:
            subscriber_id = store.create_subscriber(
                address, "", "pending", language, now, event="subscribe", source=source, ip=ip
            )
            # None only if the address exists after all; the transaction's lock rules it out.
            assert subscriber_id is not None
        else:
            subscriber_id = current.id
            if current.status in ("unsubscribed", "bounced"):
                store.change_status(
                    subscriber_id,
                    "pending",
                    ("unsubscribed", "bounced"),
                    now,
                    event="subscribe",
                    source=source,
                    ip=ip,
                )
        store.choose_pending_themes(subscriber_id, themes)
        store.owe_confirmation(subscriber_id, now)
    return None if current is not None and current.status == "confirmed" else subscriber_id


def confirm(store: Store, subscriber_id: int, *, now: datetime, source: str, ip: str | None) -> str:
    """pending -> confirmed with the themes chosen on the form (recorded in the consent
    log's event), and a welcome email owed (store/confirmations.py). Returns 'confirmed',
    'already' (was confirmed) or 'gone'."""
    with store.transaction():
        themes = _chosen(store.subscriber(subscriber_id))
        if store.change_status(
            subscriber_id,
            "confirmed",
            ("pending",),
            now,
            event="confirm",
            source=source,
            ip=ip,
            themes=themes,
        ):
            store.owe_welcome(subscriber_id, now)
            return "confirmed"
    current = store.subscriber(subscriber_id)
    return "already" if current is not None and current.status == "confirmed" else "gone"


def _chosen(current: Subscriber | None) -> tuple[str, ...] | None:
    """The themes a subscriber will have once confirmed: those chosen on the form, if any."""
    if current is None:
        return None
    return current.themes if current.pending_themes is None else current.pending_themes


def unsubscribe(
    store: Store, subscriber_id: int, *, now: datetime, source: str, ip: str | None
) -> bool:
    """Anything but erased -> unsubscribed. True if the status changed (idempotent)."""
    return store.change_status(
        subscriber_id,
        "unsubscribed",
        ("pending", "confirmed", "bounced"),
        now,
        event="unsubscribe",
        source=source,
        ip=ip,
    )


def change_preferences(
    store: Store,
    subscriber_id: int,
    *,
    themes: tuple[str, ...],
    name: str,
    now: datetime,
    source: str,
    ip: str | None,
) -> bool | None:
    """A confirmed reader's own choice of themes (from `form_themes`; none: every theme)
    and name. True if anything changed, False if nothing did, None if the reader is not
    confirmed (left, bounced or erased meanwhile: nothing is written)."""
    with store.transaction():
        current = store.subscriber(subscriber_id)
        if current is None or current.status != "confirmed":
            return None
        moved = store.set_themes(subscriber_id, themes, now, source=source, ip=ip)
        renamed = store.set_name(subscriber_id, clean_name(name), now)
    return moved or renamed


def pause(
    store: Store, subscriber_id: int, weeks: int, *, now: datetime, source: str, ip: str | None
) -> datetime | None:
    """No issue for a confirmed reader during `weeks` (one of PAUSE_WEEKS) from `now`; then
    delivery resumes by itself. The end of the pause, or None if not confirmed."""
    if weeks not in PAUSE_WEEKS:
        raise UsageError(
            t("sub.pause.weeks", weeks=weeks, allowed=", ".join(map(str, PAUSE_WEEKS))),
            hint=t("sub.pause.weeks_hint"),
        )
    until = (now + timedelta(weeks=weeks)).replace(microsecond=0)  # as the store keeps it
    return until if store.pause(subscriber_id, until, now, source=source, ip=ip) else None


def resume(store: Store, subscriber_id: int, *, now: datetime, source: str, ip: str | None) -> bool:
    """End a reader's pause now: the next issue reaches them. True if one was running."""
    return store.resume(subscriber_id, now, source=source, ip=ip)


def paused(subscriber: Subscriber, now: datetime) -> bool:
    """Whether no issue is sent to `subscriber` at `now` because of a pause."""
    return subscriber.paused_until is not None and subscriber.paused_until > now


def add(
    store: Store,
    address: str,
    *,
    name: str = "",
    language: str,
    now: datetime,
    source: str,
    themes: tuple[str, ...] | None = None,
) -> tuple[Subscriber, str | None]:
    """Staff add a confirmed subscriber (they hold the consent). Returns it and the status it
    had before (None: new). `themes` (from `theme_choice`; none: every theme) are set,
    also on a subscriber already there; None leaves those it has."""
    email = normalise_email(address)
    current = store.subscriber_by_email(email)
    if current is None:
        store.create_subscriber(
            email,
            clean_name(name),
            "confirmed",
            language,
            now,
            event="add",
            source=source,
            themes=themes or (),
        )
    elif current.status != "confirmed":
        store.change_status(
            current.id,
            "confirmed",
            ("pending", "unsubscribed", "bounced"),
            now,
            event="add",
            source=source,
            ip=None,
            # Without --themes, what the reader chose on the form (if anything) stands.
            themes=current.pending_themes if themes is None else themes,
        )
    elif themes is not None:
        store.set_themes(current.id, themes, now, source=source)
    found = store.subscriber_by_email(email)
    assert found is not None
    return found, current.status if current else None


def remove(store: Store, address: str, *, now: datetime, source: str) -> Leaving:
    """Unsubscribe an address (the record and its consent log stay; `erase` deletes)."""
    return leave(store, find(store, address).id, now=now, source=source, ip=None)


def leave(
    store: Store, subscriber_id: int, *, now: datetime, source: str, ip: str | None
) -> Leaving:
    """`unsubscribe`, saying what it did: from which status, or why nothing changed."""
    before = store.subscriber(subscriber_id)
    changed = unsubscribe(store, subscriber_id, now=now, source=source, ip=ip)
    after = store.subscriber(subscriber_id)
    email = after.email if after else None
    if changed and before is not None:
        return Leaving(subscriber_id, email, before.status, changed=True)
    # unsubscribe moves every other status, so a row it left alone was already unsubscribed,
    # or is erased (which store.subscriber no longer finds): exact even if `before` is stale
    return Leaving(subscriber_id, email, "unsubscribed" if after else "erased", changed)


def parse_csv(
    text: str, source: str | None = None, themes: Collection[str] = ()
) -> tuple[list[ImportRow], list[str]]:
    """Rows and problems ('line 4: ...') of an `email[,name]` CSV.

    A header row may name a `themes` column (`thèmes` too): theme ids separated by spaces
    (or commas), empty = every theme; a line naming an id not in `themes` (feeds.yaml's)
    is a problem, like a bad address, and is not read.

    Tolerates a UTF-8 BOM, a header row, and `;` separators (French Excel). In a `;` file,
    what `export --excel` and Excel write, a name keeps no formula guard: `'=x` reads `=x`,
    so that an export imports back as itself. Addresses are read as they are: never guarded.
    A line with a bad address is a problem, the others are read. A file whose lines cannot
    be told apart (a quote left open, so that several lines read as one cell, maybe over the
    csv module's size limit) is refused whole: UsageError naming the lines, since what
    follows such a quote cannot be trusted to be the rows it seems. `source` names the file
    in that error ("the file" when not given). Problems and errors are in the staff language.
    """
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    name_of = unguarded if delimiter == ";" else str
    rows: list[ImportRow] = []
    problems: list[str] = []
    broken: list[str] = []
    name_at: int | None = 1
    themes_at: int | None = None
    for start, number, cells in _records(text, delimiter, broken):
        cells = [c.strip() for c in cells]
        if start == 1 and cells and "@" not in cells[0]:
            name_at = _name_column(cells)  # a header row ("email;nom", "Adresse e-mail", ...)
            themes_at = _themes_column(cells)
            continue
        if not any(cells):
            continue
        if number > start and _swallowed_rows(cells, delimiter):
            broken.append(t("sub.import.one_cell", first=start, last=number))
            continue
        try:
            name = clean_name(name_of(_cell(cells, name_at))) if name_at is not None else ""
            email = normalise_email(cells[0])
        except BadAddress as exc:
            shown = repr(cells[0][:80])
            problems.append(t("sub.import.bad_line", line=number, cell=shown, problem=exc.message))
            continue
        cell = "" if themes_at is None else _cell(cells, themes_at)
        try:
            chosen = None if themes_at is None else parse_themes(cell, themes)
        except UnknownTheme as exc:
            shown = repr(cell[:80])
            problems.append(t("sub.import.bad_line", line=number, cell=shown, problem=exc.message))
            continue
        rows.append(ImportRow(number, email, name, chosen))
    if broken:
        raise UsageError(
            t(
                "sub.import.refused",
                file=source or t("sub.import.the_file"),
                problems=t("sub.import.separator").join(broken),
            ),
            hint=t("sub.import.refused_hint"),
        )
    return rows, problems


def _records(text: str, delimiter: str, broken: list[str]) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, cells) of each record. One the csv module cannot read (a
    cell over its size limit) is added to `broken`, and reading goes on after it, so that
    every such place is named at once."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    done = 0  # the last line read so far, even after a quoted line break
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            broken.append(t("sub.import.not_read", first=done + 1, last=reader.line_num, error=exc))
            done = reader.line_num
            continue
        yield done + 1, reader.line_num, cells
        done = reader.line_num


def _swallowed_rows(cells: list[str], delimiter: str) -> bool:
    """Whether a cell that spans lines holds, after a line break, what reads as a row of
    its own (an address, then the separator or the end): a quote was left open. A name
    with a line break in it ("Direction\nRH") is not that."""
    for cell in cells:
        for line in cell.split("\n")[1:]:
            head = line.split(delimiter, 1)[0].strip().strip('"')
            try:
                normalise_email(head)
            except BadAddress:
                continue
            return True
    return False


_NAME_HEADERS = {"name", "nom", "full name", "nom complet", "prénom nom", "nom prénom"}


def _name_column(header: list[str]) -> int | None:
    """Where the names are, by the header: the column called name/nom (as in our own
    `export`, where it is the third), else the second of a two-column file, else none."""
    for position, title in enumerate(header):
        if position and title.lower() in _NAME_HEADERS:
            return position
    return 1 if len(header) == 2 else None


def _themes_column(header: list[str]) -> int | None:
    """Where the themes are, by the header: the column called themes/thèmes, else none."""
    for position, title in enumerate(header):
        if position and title.lower() in ("themes", "thèmes"):
            return position
    return None


def import_csv(
    store: Store,
    path: Path,
    *,
    language: str,
    now: datetime,
    themes: Collection[str] = (),
    dry_run: bool = False,
) -> ImportReport:
    """Record every good row as confirmed (consent source 'import'); report the bad lines.

    Unsubscribed and bounced addresses are left as they are: an old list must not
    re-subscribe someone who left. For the same reason a `themes` column sets the themes
    of the addresses the import adds or confirms, not of those already confirmed (who may
    have chosen since); `themes` are the valid ids (feeds.yaml's).

    `dry_run`: the same reading and the same decisions, written nowhere: the report says
    what the import would do (the console's preview, `import --dry-run`). Otherwise the
    rows are decided and written IMPORT_BATCH at a time, each batch in one transaction:
    the write lock is never held long (the subscribe form waits for it), a batch decides
    on the store as it is when it is written, and an import stopped half-way is finished
    by importing the file again (the rows written are then unchanged).
    """
    rows, problems = parse_csv(read_import(path), path.name, themes)
    if dry_run:  # only reads: no write lock
        return _import_report(plan_import(store, rows), problems, dry_run)
    lines: list[ImportLine] = []
    for start in range(0, len(rows), IMPORT_BATCH):
        with store.transaction():
            batch = plan_import(store, rows[start : start + IMPORT_BATCH])
            for line in batch:
                _apply(store, line, language, now)
        lines += batch
    return _import_report(lines, problems, dry_run)


def read_import(path: Path) -> str:
    """The text of a CSV file to import: DigestError if unreadable, UsageError if not UTF-8."""
    try:
        return chars.decode(path.read_bytes())
    except OSError as exc:
        raise DigestError(
            t("sub.import.unreadable", path=path, error=exc.strerror or exc),
            hint=t("sub.import.unreadable_hint"),
        ) from exc
    except chars.NotUtf8 as exc:  # bad input: nothing is imported, exit 2
        raise UsageError(
            t("sub.import.not_utf8", file=path.name, line=exc.line, detail=exc.detail),
            hint=t("sub.import.not_utf8_hint"),
        ) from exc


def plan_import(store: Store, rows: list[ImportRow]) -> list[ImportLine]:
    """What importing `rows` does with each, in order. An address twice in the file is
    decided as the first row leaves it (added, then unchanged), as the import does."""
    statuses: dict[str, str | None] = {}
    lines = []
    for number, email, name, chosen in rows:
        if email not in statuses:
            current = store.subscriber_by_email(email)
            statuses[email] = current.status if current else None
        before = statuses[email]
        outcome = _outcome(before)
        if outcome in ("added", "confirmed"):
            statuses[email] = "confirmed"
        lines.append(ImportLine(number, email, name, chosen, outcome, before))
    return lines


def _outcome(status: str | None) -> str:
    if status is None:
        return "added"
    if status == "pending":
        return "confirmed"
    return "unchanged" if status == "confirmed" else "left"


def _apply(store: Store, line: ImportLine, language: str, now: datetime) -> None:
    if line.outcome == "added":
        store.create_subscriber(
            line.email,
            line.name,
            "confirmed",
            language,
            now,
            event="import",
            source="import",
            themes=line.themes or (),
        )
    elif line.outcome == "confirmed":
        current = store.subscriber_by_email(line.email)
        assert current is not None  # planned in this transaction
        # Without a themes column, what the reader chose on the form stands.
        chosen = current.pending_themes if line.themes is None else line.themes
        confirm_import(store, current.id, now, chosen)


def _import_report(lines: list[ImportLine], problems: list[str], dry_run: bool) -> ImportReport:
    count = {outcome: 0 for outcome in IMPORT_OUTCOMES}
    for line in lines:
        count[line.outcome] += 1
    skipped = tuple((x.line, x.email, x.status or "") for x in lines if x.outcome == "left")
    return ImportReport(
        count["added"],
        count["confirmed"],
        count["unchanged"],
        skipped,
        tuple(problems),
        tuple(lines),
        dry_run,
    )


def confirm_import(
    store: Store, subscriber_id: int, now: datetime, themes: tuple[str, ...] | None = None
) -> None:
    store.change_status(
        subscriber_id,
        "confirmed",
        ("pending",),
        now,
        event="import",
        source="import",
        ip=None,
        themes=themes,
    )


def listing(store: Store, status: str | None = None, theme: str | None = None) -> list[Subscriber]:
    """Subscribers by address: all, or with `status`; with `theme` (a valid id), those who
    receive it: who chose it, or chose no theme (every one)."""
    return store.subscribers(status, theme)


def to_csv(
    subscribers: list[Subscriber], *, excel: bool = False, now: datetime | None = None
) -> str:
    """CSV with a header row: email,status,name,language,created_at,confirmed_at,...,
    themes,paused_until (the end of a pause still running at `now`, else empty).

    The values as stored: what scripts read, and what `import` reads back as itself.
    `excel`: `;`-separated with CRLF line ends, which French Excel splits into columns (the
    caller writes it with a UTF-8 BOM, without which Excel reads it in the ANSI code page),
    and names that a spreadsheet would run as a formula guarded with a `'` (addresses never:
    `-bob@example.org` is one; `import` of a `;` file takes the guard off again).
    """
    out = io.StringIO()
    delimiter, line_end = (";", "\r\n") if excel else (",", "\n")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    fields = [
        "email",
        "status",
        "name",
        "language",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "themes",
        "paused_until",
    ]
    writer.writerow(fields)
    for s in subscribers:
        row = {f: "" if v is None else str(_plain(v)) for f, v in asdict(s).items()}
        row["themes"] = " ".join(s.themes)  # ids: [a-z0-9_-], nothing to guard
        if now is not None and not paused(s, now):
            row["paused_until"] = ""  # a pause that ended: delivery has resumed
        if excel:
            row["name"] = guarded(row["name"])  # the only free text: the rest is ours
        writer.writerow([row[f] for f in fields])
    return out.getvalue()


def show(store: Store, address: str) -> dict[str, Any]:
    """Everything stored about one subscriber (GDPR access request), as JSON-ready data."""
    current = find(store, address)
    record = {k: _plain(v) for k, v in asdict(current).items()}
    record["consent_log"] = [
        {k: _plain(v) for k, v in asdict(r).items() if k not in ("subscriber_id", "email_hash")}
        for r in store.consent_log(current.id)
    ]
    return record


@dataclass(frozen=True)
class Erasure:
    """What `erase` did: the hash the consent log keeps, and whether the address had been
    erased before (then only the store's files were scrubbed again)."""

    digest: str
    already: bool


def erasable(store: Store, address: str) -> bool:
    """True: a subscriber to erase; False: erased before. UsageError if never known."""
    email = normalise_email(address)
    if store.subscriber_by_email(email) is not None:
        return True
    if store.was_erased(email_hash(email)):
        return False
    raise _unknown(address)


def erase(store: Store, address: str, *, now: datetime, source: str) -> Erasure:
    """Delete the personal data of one subscriber (GDPR), from every table and every copy
    in the store's files; the consent log keeps an anonymised record (a SHA-256).

    Erasing an address erased before changes nothing but scrubs the files again: that
    finishes an erasure whose scrub another process held up (StoreError then).
    """
    email = normalise_email(address)
    digest = email_hash(email)
    current = store.subscriber_by_email(email)
    if current is not None:
        store.erase_subscriber(current.id, digest, now, source=source)
    elif not store.was_erased(digest):
        raise _unknown(address)
    try:
        store.scrub()
    except StoreError as exc:
        raise StoreError(
            t("sub.erase.not_scrubbed", email=email, error=exc.message),
            hint=t("sub.erase.not_scrubbed_hint", hint=exc.hint, email=email),
        ) from exc
    return Erasure(digest, already=current is None)


def find(store: Store, address: str) -> Subscriber:
    current = store.subscriber_by_email(normalise_email(address))
    if current is None:
        raise _unknown(address)
    return current


def _unknown(address: str) -> UsageError:
    # Like an unknown issue: the command names something that is not there (exit 2).
    return UsageError(t("sub.unknown", email=shortened(address)), hint=t("sub.unknown_hint"))


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if len(cells) > index else ""


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
