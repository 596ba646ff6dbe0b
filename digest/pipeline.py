"""The pipeline: the one module that knows the order of the stages.

    sources → select → themes → render → (files on disk, the store) → deliver (cron)

Everything is gathered and rendered in memory first, then written, so a failure half-way
leaves no half-written issue (pelican's habit). The clock is a parameter: `now`.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, FetchConfig, SourceConfig
from .errors import DigestError, SourceError
from .i18n import N_, say, staff_language, t
from .models import Issue, Item, Period, Selection, SourceResult
from .overrides import Overrides, load_overrides
from .render import RenderedIssue, render_issue
from .render.data import issue_data
from .render.memo import inputs_key, reused_issue
from .schedule import Decision, Due, decide, due_issue
from .select import date_items, needs_first_seen, select, trust_limit
from .select import prepare as select_prepare
from .sources.feeds import USER_AGENT, collect_feeds
from .sources.files import read_recaps
from .sources.itemcache import parse_key
from .store import REBUILDABLE, BuildMemo, CachedFetch, Store, StoredIssue
from .themes import arrange
from .themes import prepare as themes_prepare

if TYPE_CHECKING:
    from .delivery.deliver import DeliveryReport

OnSource = Callable[[SourceResult], None]


@dataclass(frozen=True)
class Build:
    """An issue and its rendering, ready to be written and stored."""

    issue: Issue
    rendered: RenderedIssue
    data: str
    warnings: tuple[str, ...] = ()
    # Rendered from the last build's arrangement: nothing it read had changed (render/memo.py).
    reused: bool = False


def collect(
    config: Config, store: Store, now: datetime, offline: bool, on_source: OnSource | None = None
) -> tuple[SourceResult, ...]:
    """Every source's result, in the config's order. A failing source is a value, not a raise.

    Feeds (fetched, on disk, or their cached copy with --offline) are read by collect_feeds,
    which parses them in worker processes; recap folders and skipped sources here.
    """
    cache = {
        s.url: c
        for s in config.sources
        if s.url and s.enabled and (c := store.cached_fetch(s.url, parse_key(s)))
    }
    done: dict[str, SourceResult] = {}
    for source in config.sources:
        if not _is_feed(source, offline, cache):
            done[source.name] = _read_locally(source, config)
            if on_source:
                on_source(done[source.name])
    feeds = [s for s in config.sources if s.name not in done]
    if feeds:
        read = collect_feeds(feeds, cache, fetch_settings(config), now, on_source, offline)
        store.remember_fetches(entry for _result, entry in read if entry is not None)
        for result, _entry in read:
            done[result.name] = result
    return tuple(done[s.name] for s in config.sources)


def probe_source(config: Config, source: SourceConfig, now: datetime) -> SourceResult:
    """Read one source now, as a build would (the same readers, limits and User-Agent),
    and keep nothing: the fetch cache and every issue stay as they are (the console's
    "tester maintenant"). Without the cache, a feed is fetched whole, never answered 304.
    """
    if not _is_feed(source, False, {}):
        return _read_locally(source, config)
    [(result, _entry)] = collect_feeds([source], {}, fetch_settings(config), now)
    return result


def _is_feed(source: SourceConfig, offline: bool, cache: dict[str, CachedFetch]) -> bool:
    """Whether collect_feeds reads `source`: an enabled feed that can be read now."""
    if not source.enabled:
        return False
    if source.path is not None:
        return not source.path.is_dir()
    if offline:
        return source.url in cache or source.snapshot is not None
    return source.url is not None


def fetch_settings(config: Config) -> FetchConfig:
    """The fetch limits, with a User-Agent naming the newsletter that reads the feeds."""
    if config.fetch.user_agent:
        return config.fetch
    agent = f"{USER_AGENT[:-1]}; +{config.newsletter.base_url})"
    return replace(config.fetch, user_agent=agent)


def _read_locally(source: SourceConfig, config: Config) -> SourceResult:
    """A source read without collect_feeds: disabled, a folder of recaps, or a feed with
    neither a cached copy nor a snapshot on an --offline build (a cached copy wins over the
    snapshot: it is the partner's real feed, the snapshot only stands in for it)."""
    # Why a source was skipped is for staff (build summary, digest.json): their language.
    if not source.enabled:
        why = say(staff_language(config), "build.source_disabled")
        return SourceResult(source.name, "skipped", error=why)
    if source.path is not None:
        return read_recaps(source, config.newsletter.tz)
    why = say(staff_language(config), "build.source_offline")
    return SourceResult(source.name, "skipped", error=why)


def _preparing(on_source: OnSource | None) -> OnSource:
    """`on_source`, after reading the result's items for select and themes.

    Why: while the workers parse the other feeds, this process mostly waits for the network.
    Reading each source's titles and words as it arrives (their functions keep what they
    read) rather than after the last one took ~0.4 s off a 200-feed build (BENCHMARKS.md).
    """

    def prepared(result: SourceResult) -> None:
        # Only what was just parsed: unchanged items (a 304) may need no selection at all
        # (render/memo.py); choose and arrange read any others themselves.
        if result.status == "ok":
            select_prepare(result.items)
            themes_prepare(result.items)
        if on_source:
            on_source(result)

    return prepared


# Each source in the error of a build no source could feed, by its status.
_NOTHING_READ_LINES = {
    "error": N_("build.nothing_read.failed"),
    "skipped": N_("build.nothing_read.skipped"),
}


def _nothing_read(results: tuple[SourceResult, ...], language: str) -> SourceError:
    """The error of a build no source could feed, naming each source and why."""
    if all(r.status == "skipped" for r in results):
        head = say(language, "build.nothing_read.all_skipped")
        hint = say(language, "build.nothing_read.all_skipped_hint")
    else:
        head = say(language, "build.nothing_read.all_failed")
        hint = say(language, "build.nothing_read.all_failed_hint")
    lines = "".join(
        "\n  " + say(language, _NOTHING_READ_LINES[r.status], name=r.name, error=r.error or "?")
        for r in results  # none is ok: each failed or was skipped
    )
    return SourceError(head + lines, hint=hint)


def choose(
    results: tuple[SourceResult, ...], config: Config, period: Period, now: datetime, store: Store
) -> Selection:
    """Date the items (first-seen rule), then select the period's news."""
    items: list[Item] = [item for result in results for item in result.items]
    tolerance = config.select.future_tolerance
    limit = trust_limit(now, tolerance)
    undated = [i.key for i in items if needs_first_seen(i, limit)]
    first_seen = store.first_seen(undated, now) if undated else {}
    dated = date_items(items, first_seen, now, tolerance)
    sent = store.sent_keys([i.key for i in dated], except_issue=period.name)
    return select(dated, period, sent, config.select.title_similarity)


def build_issue(
    config: Config,
    period: Period,
    now: datetime,
    store: Store,
    *,
    offline: bool = False,
    on_source: OnSource | None = None,
) -> Build:
    """Collect, select, arrange and render the issue of `period`. The issue itself is not
    stored (store_issue does that); the store only learns what a build keeps for the next:
    the fetch cache, first-seen dates and the arrangement memo."""
    with _collector_paused():
        return _build(config, period, now, store, offline, on_source)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the build, then back as it was.

    Why: a build makes hundreds of thousands of small objects (10,000 items, their words,
    their sections) that all live until it ends, and the collector kept walking them: 0.1 s
    of select and 0.1 s of themes in a 2 s rebuild (BENCHMARKS.md). A build makes little
    cyclic garbage; what it makes is collected after it, with everything else.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(
    config: Config,
    period: Period,
    now: datetime,
    store: Store,
    offline: bool,
    on_source: OnSource | None,
) -> Build:
    results = collect(config, store, now, offline, _preparing(on_source))
    if results and not any(r.ok for r in results):
        raise _nothing_read(results, staff_language(config))
    overrides = load_overrides(config, period.name)
    inputs = inputs_key(results, config, period, now, overrides, store.sent_stamp())
    reused = reused_issue(store.build_memo(period.name), inputs, results, now)
    if reused is not None:
        issue, warnings = reused
    else:
        issue, warnings = _arranged(results, config, period, now, store, overrides)
    rendered = render_issue(issue, config)
    language = config.newsletter.language
    written = issue_data(issue, language, rendered.subject, rendered.preheader)
    data = json.dumps(written, ensure_ascii=False, indent=2) + "\n"
    if reused is None:
        store.remember_build(BuildMemo(period.name, inputs, data, warnings))
    return Build(issue, rendered, data, warnings, reused=reused is not None)


def _arranged(
    results: tuple[SourceResult, ...],
    config: Config,
    period: Period,
    now: datetime,
    store: Store,
    overrides: Overrides,
) -> tuple[Issue, tuple[str, ...]]:
    """Select the period's items and arrange them in sections: the issue, and warnings."""
    selection = choose(results, config, period, now, store)
    arranged = arrange(selection.items, config, period, overrides)
    issue = Issue(
        id=period.name,
        period=period,
        sections=arranged.sections,
        sources=results,
        built_at=now,
        stats=selection,
        featured=arranged.featured,
        agenda=arranged.agenda,
        edito_html=overrides.edito_html,
        edito_text=overrides.edito_text,
        trimmed=arranged.trimmed,
        subject=overrides.subject,
        preheader=overrides.preheader,
        excluded=arranged.excluded,
    )
    return issue, tuple(arranged.warnings)


def write_issue(build: Build, out_dir: Path) -> tuple[Path, ...]:
    """Write the four files of DESIGN.md §4, each atomically (temp file, fsync, rename).

    A folder that cannot be written is a DigestError (exit 1) naming it, not a traceback.
    """
    files = {
        "digest.html": build.rendered.html,
        "digest.txt": build.rendered.text,
        "digest.json": build.data,
        "web.html": build.rendered.web,
    }
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return tuple(_write_atomically(out_dir / name, text) for name, text in files.items())
    except OSError as exc:
        raise DigestError(
            t("build.cannot_write_out", folder=out_dir, error=exc.strerror or exc),
            hint=t("build.cannot_write_out_hint"),
        ) from exc


def _write_atomically(path: Path, text: str) -> Path:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates 0600 files; these are meant to be read (web server, reviewers).
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def store_issue(build: Build, store: Store) -> str | None:
    """Keep what was built so `digest send` sends exactly what staff reviewed.

    Returns None once stored; else the status ('sending', 'sent') of the version the store
    keeps, because that issue is going out or went out already.
    """
    stored = store.issue(build.issue.id)
    if stored is not None and stored.status not in REBUILDABLE:
        return stored.status
    period = build.issue.period
    store.save_issue(
        StoredIssue(
            id=build.issue.id,
            period_start=period.start,
            period_end=period.end,
            built_at=build.issue.built_at,
            data=build.data,
            html=build.rendered.html,
            text=build.rendered.text,
            web=build.rendered.web,
            status="built",
        )
    )
    store.set_issue_subject(build.issue.id, build.rendered.subject)
    return None


@dataclass(frozen=True)
class Stored:
    """What `build_and_store` did: the build, the status the store kept instead of it
    (None: stored), and whether storing it withdrew an approval."""

    build: Build
    kept: str | None
    withdrawn: bool


def build_and_store(
    config: Config,
    period: Period,
    now: datetime,
    store: Store,
    *,
    offline: bool = False,
    on_source: OnSource | None = None,
) -> Stored:
    """`digest build`'s build and store, shared with the console (an edit, "Reconstruire").

    What was approved is what is sent: a rebuild that replaces an approved issue withdraws
    the approval (store_issue stores it as "built"), and the caller says so."""
    before = store.issue(period.name)
    built = build_issue(config, period, now, store, offline=offline, on_source=on_source)
    kept = store_issue(built, store)
    withdrawn = kept is None and before is not None and before.status == "approved"
    return Stored(built, kept, withdrawn)


# -- the cron job ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """What `digest run` did: messages for the log (`alerts` among them go to stderr), and
    the delivery report of each issue it sent (the due one first, then the others it
    resumed, oldest first)."""

    messages: tuple[str, ...]
    reports: tuple[DeliveryReport, ...] = ()
    skipped: bool = False
    alerts: tuple[str, ...] = ()


SendFn = Callable[[str], "DeliveryReport"]


def run_due(
    config: Config,
    store: Store,
    clock: Callable[[], datetime],
    send: SendFn,
    force: bool,
    offline: bool = False,
) -> RunOutcome:
    """Build the due issue if needed and send it when the schedule and staff allow; then go
    on sending every other issue still 'sending', oldest first: rows staff retried (`digest
    retry`), deferred rows of an earlier week. Cron sends them; nothing is stranded."""
    now, language = clock(), staff_language(config)
    due = due_issue(config.schedule, config.newsletter.tz, now)
    decision, messages = _decision(config, store, due, now, force, offline)
    alerts = (messages[-1],) if decision.loud else ()
    if decision.action == "skip":
        store.set_issue_status(due.issue_id, "skipped")
    others = [i.id for i in reversed(store.issues_with(("sending",))) if i.id != due.issue_id]
    messages += [say(language, "run.resume_other", issue=issue) for issue in others]
    reports = []
    if decision.action == "send":
        _approve_automatically(store, due.issue_id)
        reports.append(send(due.issue_id))
    reports += [send(issue) for issue in others]
    skipped = decision.action == "skip"
    return RunOutcome(tuple(messages), tuple(reports), skipped=skipped, alerts=alerts)


def _decision(
    config: Config, store: Store, due: Due, now: datetime, force: bool, offline: bool
) -> tuple[Decision, list[str]]:
    """What to do with the due issue, after building it if it had to be; the messages."""
    language = staff_language(config)
    decision = decide(due, store.issue(due.issue_id), config.schedule, now, force)
    messages = [decision.message(language)]
    if decision.action == "build":
        built = build_issue(config, due.period, now, store, offline=offline)
        store_issue(built, store)
        messages += built.warnings
        decision = decide(due, store.issue(due.issue_id), config.schedule, now, force)
        messages.append(decision.message(language))
    return decision, messages


def _approve_automatically(store: Store, issue_id: str) -> None:
    """Automatic approval (or --force) is recorded like a person's, for the report."""
    stored = store.issue(issue_id)
    if stored is not None and stored.status in ("built", "skipped"):
        store.set_issue_status(issue_id, "approved")
