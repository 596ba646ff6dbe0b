"""Parse CPU benchmark: what a legitimate feed costs against the parse CPU allowance.

A parse in a worker is stopped once it has used `parse_cpu_limit(size)` seconds of user CPU
(ITIMER_VIRTUAL: feedpool.py). This measures the same clock (the worker's user time around
`parse_feed`) for legitimate feeds of 0.1 to 5 MB (RSS 2.0 with `description` and
`content:encoded` HTML bodies, the same as Atom, few long items) and the real feeds of
tests/data/feeds, in 2 worker processes parsing at once while `--hogs` processes spin (a
busy machine: builds run beside other jobs), and prints seconds per MB next to the
allowance. Run: `.venv/bin/python bench/bench_parse_cpu.py [--repeat N] [--hogs N]`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_build import paragraph  # noqa: E402

from digest.config import SourceConfig  # noqa: E402
from digest.sources.feedparse import parse_feed  # noqa: E402
from digest.sources.feedpool import parse_cpu_limit  # noqa: E402

START = datetime(2023, 5, 8, 6, tzinfo=UTC)
SOURCE = SourceConfig(name="Partenaire", url="https://partenaire.example.org/feed")


def body_html(seed: int, paragraphs: int) -> str:
    return (
        "".join(
            f"<p>{paragraph(seed + k, 38)}. <a href='/a/{seed}-{k}'>Lire</a> "
            f"<strong>{paragraph(k, 3)}</strong></p>"
            for k in range(paragraphs)
        )
        + f"<p><img src='/images/{seed}.jpg' alt='illustration'></p>"
    )


def rss(items: int, paragraphs: int = 3) -> bytes:
    """RSS 2.0 with both a description and content:encoded per item (as WordPress writes)."""
    entries = "".join(
        f"<item><title>{escape(paragraph(n, 9))}</title>"
        f"<link>https://partenaire.example.org/{n}</link><guid>p-{n}</guid>"
        f"<pubDate>{(START + timedelta(minutes=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><category>climat</category><category>eau</category>"
        f"<description>{escape(body_html(n, 1))}</description>"
        f"<content:encoded><![CDATA[{body_html(n, paragraphs)}]]></content:encoded></item>\n"
        for n in range(items)
    )
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>Partenaire</title><link>https://partenaire.example.org/</link>"
        "<description>Actualités</description>\n"
    )
    return (head + entries + "</channel></rss>\n").encode()


def dense(items: int) -> bytes:
    """Many short elements per item (a podcast or a news agency's feed): feedparser's cost
    follows the number of elements more than the bytes."""
    entries = "".join(
        f"<item><title>{escape(paragraph(n, 6))}</title>"
        f"<link>https://partenaire.example.org/{n}</link><guid>p-{n}</guid>"
        f"<pubDate>{(START + timedelta(minutes=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><dc:creator>Rédaction</dc:creator><comments>https://p.org/{n}#c</comments>"
        + "".join(f"<category>{w}</category>" for w in paragraph(n, 12).split())
        + f"<media:content url='https://p.org/{n}.jpg' medium='image' width='800'/>"
        f"<media:thumbnail url='https://p.org/{n}-t.jpg'/>"
        f"<enclosure url='https://p.org/{n}.mp3' type='audio/mpeg' length='1000'/>"
        f"<itunes:duration>12:34</itunes:duration><itunes:explicit>no</itunes:explicit>"
        f"<description>{escape(paragraph(n, 20))}</description></item>\n"
        for n in range(items)
    )
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        "<title>Partenaire</title><link>https://partenaire.example.org/</link>"
        "<description>Actualités</description>\n"
    )
    return (head + entries + "</channel></rss>\n").encode()


def atom(entries: int) -> bytes:
    body = "".join(
        f"<entry><title>{escape(paragraph(n, 9))}</title><id>urn:p:{n}</id>"
        f"<link href='https://partenaire.example.org/{n}'/>"
        f"<updated>{(START + timedelta(minutes=n)).isoformat()}</updated>"
        f"<summary type='html'>{escape(body_html(n, 1))}</summary>"
        f"<content type='html'>{escape(body_html(n, 3))}</content></entry>\n"
        for n in range(entries)
    )
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Partenaire</title><id>urn:p</id><updated>2023-05-08T06:00:00Z</updated>\n"
    )
    return (head + body + "</feed>\n").encode()


def feeds() -> dict[str, bytes]:
    made = {
        "rss 50 items": rss(50),
        "rss 500 items": rss(500),
        "rss 2,000 items": rss(2000),
        "rss 2,000 items, long bodies": rss(2000, 6),
        "atom 2,000 entries": atom(2000),
        "rss 2,000 items, dense": dense(2000),
        "rss 5,000 items, dense": dense(5000),
        "rss 30 items, long bodies": rss(30, 60),
    }
    for path in sorted((ROOT / "tests" / "data" / "feeds").glob("*.xml")):
        if path.stem in ("rss20", "atom", "latin1", "dates", "rss10", "titles-rss"):
            made[f"tests/data/feeds/{path.name}"] = path.read_bytes()
    return made


def user_cpu_of_parse(body: bytes) -> float:
    """The worker's user CPU around parse_feed: the clock ITIMER_VIRTUAL counts."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    parse_feed(body, SOURCE, SOURCE.url)
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime - before


def spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


@contextmanager
def hogs(count: int, seconds: float) -> Iterator[None]:
    """`count` processes that spin: a machine busy with other jobs."""
    context = multiprocessing.get_context("fork")
    spinners = [
        context.Process(target=spin, args=(time.monotonic() + seconds,)) for _ in range(count)
    ]
    for process in spinners:
        process.start()
    try:
        yield
    finally:
        for process in spinners:
            process.terminate()
            process.join()


def measure(bodies: dict[str, bytes], repeat: int) -> dict[str, list[float]]:
    """Each feed parsed `repeat` times, spread over 2 workers parsing at once."""
    jobs = [name for name in bodies for _ in range(repeat)]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(2, context) as pool:
        costs = pool.map(user_cpu_of_parse, (bodies[name] for name in jobs))
        seen: dict[str, list[float]] = {name: [] for name in bodies}
        for name, cost in zip(jobs, costs, strict=True):
            seen[name].append(cost)
    return seen


def report(bodies: dict[str, bytes], seen: dict[str, list[float]], label: str) -> float:
    print(f"\n{label}")
    print(f"{'feed':38} {'size':>9} {'median':>8} {'max':>8} {'s/MB max':>9} {'allowance':>9}")
    worst = 0.0
    for name, costs in seen.items():
        size = len(bodies[name])
        per_mb = max(costs) / (size / 1e6)
        if size >= 500_000:  # small feeds are ruled by the base allowance, not the rate
            worst = max(worst, per_mb)
        line = f"{name:38} {size / 1e6:7.2f}MB {statistics.median(costs):7.3f}s {max(costs):7.3f}s"
        print(f"{line} {per_mb:9.2f} {parse_cpu_limit(size):8.2f}s")
    print(f"worst rate over feeds of 0.5 MB and more: {worst:.2f} s per MB")
    return worst


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hogs", type=int, default=4, help="spinning processes for 'busy'")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    bodies = feeds()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    print(f"load average before: {' / '.join(f'{n:.2f}' for n in os.getloadavg())}")
    quiet = measure(bodies, args.repeat)
    report(bodies, quiet, "2 workers, no hogs")
    run: Callable[[], dict[str, list[float]]] = lambda: measure(bodies, args.repeat)  # noqa: E731
    with hogs(args.hogs, 600):
        busy = run()
    report(bodies, busy, f"2 workers beside {args.hogs} spinning processes")
    print(f"load average after: {' / '.join(f'{n:.2f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
