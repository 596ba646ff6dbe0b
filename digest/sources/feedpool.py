"""Parsing off the event loop: worker processes, each parse under a CPU allowance.

`parser_pool(n)` gives running worker processes (or None when there is nothing to parse);
`parse_in_worker` is `parse_feed` stopped with ParseError once it has used more CPU than a
feed of its size needs. Items are frozen dataclasses: they come back pickled.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from ..config import SourceConfig
from ..errors import ParseError
from ..i18n import current_staff_language, set_staff_language, t
from ..models import Item
from .feedparse import parse_feed
from .itemcache import encode_items

if TYPE_CHECKING:
    from sys import UnraisableHookArgs

# CPU a parse may take. Measured (bench/bench_parse_cpu.py, BENCHMARKS.md): 0.2-0.3 s per
# MB for feeds of long HTML bodies, up to 0.71 s per MB for feeds of many short elements
# (categories, media, enclosures), on a loaded machine too. The allowance is about three
# times the worst of those, so a legitimate feed is never refused; beyond it the feed is
# hostile or broken (many thousands of attributes, or of nested or empty elements, cost
# feedparser ten times their size and more), and it is stopped.
PARSE_CPU_BASE_S = 1.0
PARSE_CPU_PER_MB_S = 2.0


@contextmanager
def parser_pool(feeds: int) -> Iterator[Executor | None]:
    """Worker processes for parsing, already running when this returns.

    Why processes: parsing is pure-Python CPU work, threads would share one core (the GIL)
    while the event loop needs the other for the network. Why fork, and now: the workers
    start before the event loop (and its resolver threads) exists, in a few milliseconds,
    without re-importing the program's __main__ as forkserver and spawn do.
    """
    if feeds < 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = max(1, min(os.cpu_count() or 1, 4, feeds))
    # The workers say why a feed is refused in the staff language (spawn does not inherit it).
    language = (current_staff_language(),)
    pool = ProcessPoolExecutor(workers, context, initializer=worker_init, initargs=language)
    try:
        pool.submit(int).result()  # with fork, the first submit starts every worker
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class ParseTimeout(BaseException):
    """Raised by the CPU timer. A BaseException, so no `except Exception` swallows it."""


def worker_init(language: str | None = None) -> None:
    # A build pauses the cyclic collector (pipeline.build_issue); forked workers inherit
    # that, but a parse of a hostile feed may make cyclic garbage: theirs runs.
    gc.enable()
    if language is not None:
        set_staff_language(language)
    signal.signal(signal.SIGVTALRM, _parse_timeout)
    sys.unraisablehook = _quiet_timeouts(sys.unraisablehook)


def _quiet_timeouts(
    hook: Callable[[UnraisableHookArgs], object],
) -> Callable[[UnraisableHookArgs], object]:
    """An unraisable hook that drops ParseTimeout. Why: when the timer fires inside a
    finalizer (the garbage collector may run one mid-parse), Python swallows the exception
    and prints "Exception ignored"; the timer's 0.1 s re-arm stops the parse right after."""

    def hook_without_timeouts(args: UnraisableHookArgs) -> object:
        if isinstance(args.exc_value, ParseTimeout):
            return None
        return hook(args)

    return hook_without_timeouts


def _parse_timeout(signum: int, frame: FrameType | None) -> None:
    raise ParseTimeout


def parse_cpu_limit(size: int) -> float:
    """Seconds of CPU the parse of a `size`-byte body may take."""
    return PARSE_CPU_BASE_S + PARSE_CPU_PER_MB_S * size / 1_000_000


def parse_in_worker(
    body: bytes, source: SourceConfig, base_url: str | None, headers: Mapping[str, str]
) -> tuple[Item, ...]:
    """parse_feed under a CPU-time limit (ITIMER_VIRTUAL: the load of the machine and the
    time spent waiting do not count), re-armed every 0.1 s in case a handler swallowed it."""
    limit = parse_cpu_limit(len(body))
    try:
        signal.setitimer(signal.ITIMER_VIRTUAL, limit, 0.1)
        try:
            return parse_feed(body, source, base_url, headers)
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
    except ParseTimeout:
        raise ParseError(t("source.parse_cpu", seconds=limit)) from None


def parse_for_cache(
    body: bytes, source: SourceConfig, base_url: str | None, headers: Mapping[str, str]
) -> tuple[tuple[Item, ...], bytes]:
    """parse_in_worker, and the items encoded for the fetch cache (here, in the worker: the
    event loop's process has the network to serve)."""
    items = parse_in_worker(body, source, base_url, headers)
    return items, encode_items(items)
