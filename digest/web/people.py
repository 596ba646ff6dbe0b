"""The console's "Abonnés" pages: search, counts, add, CSV import (preview, then apply),
export, a subscriber's consent history, and erasure with a confirmation step.

Each action is the same library call as its command (digest.subscribers): `add` as
`subscribers add` (confirmed at once: staff hold the consent, no double opt-in), the
preview and the import as `subscribers import --dry-run` and `subscribers import` on the
same file, the export as `subscribers list --format csv` in `export --excel`'s
spreadsheet-safe form, erasure as `subscribers erase`. Every change is in the audit log;
the log names subscribers by id, never by address, so an erasure leaves no copy there.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import shutil
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import subscribers as subs
from ..config import Config
from ..errors import DigestError
from ..i18n import N_, Messages, say, status_label
from ..models import ConsentRecord, Subscriber
from ..store import Store
from . import staff
from .dashboard import moment_text
from .security import client_ip, limit_key

if TYPE_CHECKING:
    from .console import Console

PAGE_SIZE = 50
MAX_QUERY = 254
MAX_IMPORT_BYTES = 5 * 1024 * 1024  # about 100,000 rows of address, name and themes
IMPORT_PATH = "/admin/subscribers/import"
UPLOAD_TTL_S = 3600  # an upload not applied within the hour is deleted
# What a page says after a change (?done=...): a fixed list, never text from the URL.
DONE = {
    "added": N_("console.sub_done_added"),
    "already": N_("console.sub_done_already"),
    "now": N_("console.sub_done_now"),
}
ERASED_DONE = N_("console.sub_done_erased")  # on the list, where no subscriber is named
ADDED, IMPORTED, EXPORTED, ERASED = (
    "subscriber_added",
    "subscribers_imported",
    "subscribers_exported",
    "subscriber_erased",
)


@dataclass(frozen=True)
class Query:
    """A search of the subscribers, as the page's form and links carry it."""

    text: str = ""
    status: str = ""
    theme: str = ""
    page: int = 1

    def link(self, page: int) -> str:
        fields = {"q": self.text, "status": self.status, "theme": self.theme, "page": page}
        return "?" + urlencode({k: v for k, v in fields.items() if v})


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Overview:
    statuses: tuple[Count, ...]
    themes: tuple[Count, ...]  # confirmed readers who receive each theme
    every_theme: int  # confirmed readers who chose no theme (so receive all)
    found: tuple[Subscriber, ...]
    total: int
    pages: int


@dataclass(frozen=True)
class LogLine:
    at: str
    event: str
    source: str
    ip: str
    themes: str


def read_query(params: Any, config: Config) -> Query:
    """The search from the URL, each value checked (an unknown status or theme is none)."""
    status = str(params.get("status", ""))
    theme = str(params.get("theme", ""))
    try:
        page = max(1, min(int(params.get("page", "1")), 10**6))
    except ValueError:
        page = 1
    return Query(
        text=" ".join(str(params.get("q", "")).split())[:MAX_QUERY],
        status=status if re.fullmatch(r"[a-z_]{1,20}", status) else "",
        theme=theme if theme in {t.id for t in config.themes} else "",
        page=page,
    )


def overview(store: Store, config: Config, words: Messages, query: Query) -> Overview:
    """The counts and one page of the search, for the "Abonnés" page."""
    counts = store.status_counts()
    order = [s for s in subs.STATUSES if s in counts] + sorted(set(counts) - set(subs.STATUSES))
    language = words.language
    statuses = tuple(Count(s, status_label(language, s), counts[s]) for s in order)
    chosen = store.theme_choices()
    every = chosen.get((), 0)
    themes = tuple(
        Count(t.id, t.title, every + sum(n for ids, n in chosen.items() if t.id in ids))
        for t in config.themes
    )
    offset = (query.page - 1) * PAGE_SIZE
    found, total = store.search_subscribers(
        query.text, query.status or None, query.theme or None, PAGE_SIZE, offset
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return Overview(statuses, themes, every, tuple(found), total, pages)


def consent_lines(records: list[ConsentRecord], config: Config, words: Messages) -> list[LogLine]:
    titles = {t.id: t.title for t in config.themes}
    tz = config.newsletter.tz
    return [
        LogLine(
            moment_text(r.at, tz, words),
            r.event,
            r.source,
            r.ip or "",
            _themes_text(r.themes, titles, words),
        )
        for r in records
    ]


def _themes_text(ids: tuple[str, ...] | None, titles: dict[str, str], words: Messages) -> str:
    if ids is None:
        return ""
    if not ids:
        return say(words, "console.every_theme")
    return ", ".join(titles.get(i, i) for i in ids)


# -- uploads ------------------------------------------------------------------------------


class Uploads:
    """Import files kept between the preview and the apply, in a private folder beside the
    store: one folder per upload, named by a hash of the session and a random id, so that
    only the session that sent a file can apply it, and the file keeps its own name (the
    import's messages name it)."""

    def __init__(self, store_path: Path) -> None:
        self.root = store_path.with_name(store_path.name + ".uploads")

    def keep(self, session_hash: str, name: str, body: bytes) -> tuple[str, Path]:
        self.root.mkdir(mode=0o700, exist_ok=True)
        self._forget_old()
        upload_id = secrets.token_urlsafe(24)
        folder = self._folder(session_hash, upload_id)
        folder.mkdir(mode=0o700)
        path = folder / _safe_name(name)
        path.write_bytes(body)
        return upload_id, path

    def find(self, session_hash: str, upload_id: str) -> Path | None:
        if not re.fullmatch(r"[\w-]{20,64}", upload_id):
            return None
        folder = self._folder(session_hash, upload_id)
        files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        return files[0] if files else None

    def drop(self, path: Path) -> None:
        shutil.rmtree(path.parent, ignore_errors=True)

    def _folder(self, session_hash: str, upload_id: str) -> Path:
        key = hashlib.sha256(f"{session_hash}:{upload_id}".encode()).hexdigest()
        return self.root / key

    def _forget_old(self) -> None:
        cutoff = time.time() - UPLOAD_TTL_S
        for folder in self.root.iterdir():
            with suppress(FileNotFoundError):  # another request deleted it meanwhile
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)


def _safe_name(name: str) -> str:
    """The uploaded file's own name, reduced to plain characters, ending in .csv."""
    stem = re.sub(r"[^\w.-]+", "_", Path(name or "import").stem)[:80].strip("._") or "import"
    return f"{stem}.csv"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the pages ----------------------------------------------------------------------------


class SubscriberPages:
    """The handlers of /admin/subscribers, on the console's policy (pages, CSRF, audit)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.site = console.site
        self.config = console.site.config
        self.words = console.words
        self.uploads = Uploads(console.site.config.store)

    def routes(self) -> list[Route]:
        return [
            Route("/admin/subscribers", self.index, methods=["GET"]),
            Route("/admin/subscribers/add", self.add, methods=["POST"]),
            Route(IMPORT_PATH, self.preview, methods=["POST"]),
            Route(IMPORT_PATH + "/apply", self.apply, methods=["POST"]),
            Route("/admin/subscribers/export", self.export, methods=["POST"]),
            Route("/admin/subscribers/{id:int}", self.one, methods=["GET"]),
            Route("/admin/subscribers/{id:int}/erase", self.erase_page, methods=["GET"]),
            Route("/admin/subscribers/{id:int}/erase", self.erase, methods=["POST"]),
        ]

    # -- reading ------------------------------------------------------------------------

    async def index(self, request: Request, status: int = 200, **values: Any) -> Response:
        query = read_query(request.query_params, self.config)
        config, words = self.config, self.words
        view = await self.site.store.read(lambda db: overview(db, config, words, query))
        erased = request.query_params.get("done") == "erased"
        values.setdefault("notice", say(words, ERASED_DONE) if erased else "")
        values.setdefault("added", None)
        labels = {c.key: c.label for c in view.statuses}
        return self._page(
            request, "subscribers.html", status, view=view, query=query, themes=config.themes,
            labels=labels, titles=self._titles(), **values,
        )  # fmt: skip

    async def one(self, request: Request) -> Response:
        found = await self._subscriber(request)
        if found is None:
            return self._not_found(request)
        subscriber, records = found
        done = DONE.get(request.query_params.get("done", ""))
        notice = say(self.words, done, email=subscriber.email) if done else ""
        return self._page(
            request,
            "subscriber.html",
            subscriber=subscriber,
            status_label=status_label(self.words.language, subscriber.status),
            themes_text=_themes_text(subscriber.themes, self._titles(), self.words),
            log=consent_lines(records, self.config, self.words),
            notice=notice,
        )

    async def _subscriber(self, request: Request) -> tuple[Subscriber, list[ConsentRecord]] | None:
        subscriber_id = int(request.path_params["id"])
        if subscriber_id >= 2**63:  # past SQLite's integers: no such subscriber
            return None

        def read(db: Store) -> tuple[Subscriber, list[ConsentRecord]] | None:
            subscriber = db.subscriber(subscriber_id)
            return (subscriber, db.consent_log(subscriber_id)) if subscriber else None

        return await self.site.store.read(read)

    # -- add ----------------------------------------------------------------------------

    async def add(self, request: Request) -> Response:
        form = await self.console.posted(request)
        if form is None:
            return self.console.stale(request)
        typed, name = str(form.get("email", ""))[:300], str(form.get("name", ""))[:300]
        ticked = [str(v) for v in form.getlist("themes")]
        known = [t.id for t in self.config.themes]
        # As `add --themes`: no box ticked leaves the themes an address has (a new one
        # then gets every theme).
        language, now, who = self.config.newsletter.language, self.site.clock(), self._who(request)
        ip = self._ip(request)

        def add(db: Store) -> tuple[Subscriber, str | None]:
            chosen = subs.theme_choice(ticked, known) if ticked else None
            with db.transaction():  # the change and its audit entry, or neither
                found, before = subs.add(
                    db, typed, name=name, language=language, now=now, source="console",
                    themes=chosen,
                )  # fmt: skip
                details = {"before": before, "themes": None if chosen is None else list(chosen)}
                staff.audit(db, who, ADDED, details, now=now, subscriber=found.id, ip=ip)
            return found, before

        try:
            found, before = await self.site.store.write(add)
        except DigestError as exc:  # a bad address, an unknown theme
            kept = {"email": typed, "name": name, "ticked": ticked}
            return await self.index(request, 400, error=exc.message, added=kept)
        done = "added" if before is None else "already" if before == found.status else "now"
        return RedirectResponse(f"/admin/subscribers/{found.id}?done={done}", 303)

    # -- import -------------------------------------------------------------------------

    async def preview(self, request: Request) -> Response:
        form = await self.console.posted(request, files=1)
        if form is None:
            return self.console.stale(request)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await self.index(request, 400, error=say(self.words, "console.import_no_file"))
        body = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(body) > MAX_IMPORT_BYTES:
            limit = MAX_IMPORT_BYTES // (1024 * 1024)
            error = say(self.words, "console.import_too_large", limit=limit)
            return await self.index(request, 400, error=error)
        try:
            upload_id, path = self.uploads.keep(self._session_hash(request), upload.filename, body)
        except OSError as exc:  # a full disk, a folder it may not write in
            error = say(self.words, "console.import_not_kept", error=exc.strerror or exc)
            return await self.index(request, 500, error=error)
        try:
            report = await self._import(path, dry_run=True)
        except DigestError as exc:  # not UTF-8, or lines that cannot be told apart
            self.uploads.drop(path)
            return await self.index(request, 400, error=exc.message)
        return self._import_page(request, report, path, upload_id=upload_id)

    async def apply(self, request: Request) -> Response:
        form = await self.console.posted(request)
        if form is None:
            return self.console.stale(request)
        path = self.uploads.find(self._session_hash(request), str(form.get("upload", "")))
        if path is None or file_hash(path) != str(form.get("sha256", "")):
            error = say(self.words, "console.import_gone")
            return await self.index(request, 400, error=error)
        report = await self._import(path, dry_run=False, request=request)
        self.uploads.drop(path)  # kept on a failure, so that "apply" can be sent again
        return self._import_page(request, report, path)

    async def _import(
        self, path: Path, *, dry_run: bool, request: Request | None = None
    ) -> subs.ImportReport:
        language, now = self.config.newsletter.language, self.site.clock()
        known = [t.id for t in self.config.themes]
        who = self._who(request) if request else ""
        ip = self._ip(request) if request else None
        digest = file_hash(path)

        def run(db: Store) -> subs.ImportReport:
            report = subs.import_csv(
                db, path, language=language, now=now, themes=known, dry_run=dry_run
            )
            if not dry_run:
                details = _import_details(report, path.name, digest)
                staff.audit(db, who, IMPORTED, details, now=now, ip=ip)
            return report

        return await (self.site.store.read(run) if dry_run else self.site.store.write(run))

    def _import_page(
        self, request: Request, report: subs.ImportReport, path: Path, upload_id: str = ""
    ) -> Response:
        language = self.words.language
        groups = {o: [x for x in report.lines if x.outcome == o] for o in subs.IMPORT_OUTCOMES}
        return self._page(
            request,
            "import.html",
            report=report,
            groups=groups,
            labels={s: status_label(language, s) for s in (*subs.STATUSES, "erased")},
            file_name=path.name,
            upload=upload_id,
            sha256=file_hash(path) if upload_id else "",
            shown=200,
        )

    # -- export -------------------------------------------------------------------------

    async def export(self, request: Request) -> Response:
        form = await self.console.posted(request)
        if form is None:
            return self.console.stale(request)
        query = read_query(form, self.config)
        now, who, ip = self.site.clock(), self._who(request), self._ip(request)

        def export(db: Store) -> str:
            found = subs.listing(db, query.status or None, query.theme or None)
            details = {"count": len(found), "status": query.status, "theme": query.theme}
            staff.audit(db, who, EXPORTED, details, now=now, ip=ip)
            return subs.to_csv(found, excel=True)

        text = await self.site.store.write(export)
        name = f"abonnes-{now:%Y-%m-%d}.csv"
        headers = {
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        }
        return Response(text.encode("utf-8-sig"), media_type="text/csv; charset=utf-8",
                        headers=headers)  # fmt: skip

    # -- erase --------------------------------------------------------------------------

    async def erase_page(self, request: Request) -> Response:
        found = await self._subscriber(request)
        if found is None:
            return self._not_found(request)
        return self._page(request, "erase.html", subscriber=found[0])

    async def erase(self, request: Request) -> Response:
        form = await self.console.posted(request)
        if form is None:
            return self.console.stale(request)
        found = await self._subscriber(request)
        if found is None:
            return self._not_found(request)
        if form.get("confirm") != "yes":
            return RedirectResponse(f"/admin/subscribers/{found[0].id}/erase", 303)
        subscriber, now = found[0], self.site.clock()
        who, ip = self._who(request), self._ip(request)

        def erase(db: Store) -> None:
            done = subs.erase(db, subscriber.email, now=now, source="console")
            details = {"sha256": done.digest[:16]}
            staff.audit(db, who, ERASED, details, now=now, subscriber=subscriber.id, ip=ip)

        await self.site.store.write(erase)
        return RedirectResponse("/admin/subscribers?done=erased", 303)

    # -- shared -------------------------------------------------------------------------

    def _page(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        return self.console.signed_in(
            request, template, status=status, current="subscribers", **values
        )

    def _not_found(self, request: Request) -> Response:
        heading = say(self.words, "console.sub_missing_title")
        text = say(self.words, "console.sub_missing_text")
        return self._page(request, "message.html", 404, heading=heading, text=text)

    def _titles(self) -> dict[str, str]:
        return {t.id: t.title for t in self.config.themes}

    def _who(self, request: Request) -> str:
        return self.console.who(request)

    def _session_hash(self, request: Request) -> str:
        return self.console.session(request).token_hash

    @staticmethod
    def _ip(request: Request) -> str:
        return limit_key(client_ip(request))


def _import_details(report: subs.ImportReport, name: str, digest: str) -> dict[str, object]:
    """What the audit log keeps of an import: the file and the counts, no address."""
    return {
        "file": name,
        "sha256": digest,
        "added": report.added,
        "confirmed": report.confirmed,
        "unchanged": report.unchanged,
        "left": len(report.skipped),
        "bad": len(report.problems),
    }
