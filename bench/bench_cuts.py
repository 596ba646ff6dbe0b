"""Cuts per reader (issue 14): rendering the cuts in use, then sending an issue whose
readers are spread over 50 distinct cuts, to bench_send.py's loopback SMTP sink.

The issue is at the default caps: 40 items over 8 themes (5 each). Readers choose 2 or 3
themes: 50 distinct choices, spread evenly. Figures:

- render: the whole issue (what `digest build` renders) plus the 50 cuts (what the first
  `digest send` renders, delivery/cuts.plan_cuts), median of a few repeats, after a warm-up;
- send: `send_issue` from an issue never sent (the freeze, which renders the cuts and
  writes every outbox row, included) to the end, in a fresh child process each, so that
  peak RSS (`ru_maxrss`) at 10,000 and 100,000 readers can be compared.

    .venv/bin/python bench/bench_cuts.py [--subscribers 10000 100000] [--cuts 50]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_send import run_sink  # noqa: E402  (the same sink as the send bench)

THEMES = 8
ITEMS = 40  # issue.max_items, the default cap (and 5 per theme, under max_per_section)
CONFIG = """newsletter:
  title: "Lettre du Cerdd"
  base_url: "https://lettre.example.org"
  sender: "Lettre du Cerdd <lettre@example.org>"
sources:
  - name: "Récits"
    path: recaps
store: digest.db
themes:
{themes}"""


def choices(count: int) -> list[str]:
    """`count` distinct theme choices of 2 or 3 themes, as subscribers.themes stores them;
    none (`--cuts 0`): every reader chose nothing, the whole issue for all (to compare)."""
    if not count:
        return [""]
    ids = [f"theme{t}" for t in range(THEMES)]
    pairs = itertools.combinations(ids, 2)
    triples = itertools.combinations(ids, 3)
    return [" ".join(c) for c in itertools.islice(itertools.chain(pairs, triples), count)]


def setup(folder: Path) -> tuple[object, object, str]:
    """The config, the issue and its digest.json, as `digest build` would store them."""
    from digest.config import load_config
    from digest.render import render_issue
    from digest.render.data import issue_data
    from tests.golden_plugin import sized_issue

    themes = "".join(f'  - id: theme{t}\n    title: "Thème {t}"\n' for t in range(THEMES))
    (folder / "recaps").mkdir(exist_ok=True)
    (folder / "feeds.yaml").write_text(CONFIG.format(themes=themes), encoding="utf-8")
    config = load_config(folder / "feeds.yaml")
    issue = sized_issue(ITEMS, THEMES)
    rendered = render_issue(issue, config)
    data = json.dumps(issue_data(issue, "fr", rendered.subject, rendered.preheader))
    return config, rendered, data


def measure_render(cuts: int, repeats: int) -> dict[str, float]:
    """Seconds to render the whole issue, and the `cuts` cuts (median of `repeats`)."""
    from digest.delivery.cuts import plan_cuts
    from digest.render import render_issue
    from digest.render.cuts import issue_from_data

    config, _, data = setup(Path(tempfile.mkdtemp(prefix="bench-cuts-")))
    issue = issue_from_data(data)
    wanted = choices(cuts)
    plan_cuts(config, data, wanted, "thin")  # type: ignore[arg-type]  # warm-up
    whole, cut = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        render_issue(issue, config)  # type: ignore[arg-type]
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        plan = plan_cuts(config, data, wanted, "thin")  # type: ignore[arg-type]
        cut.append(time.perf_counter() - start)
    assert len(plan.rendered) == cuts and not plan.skipped, plan.skipped
    return {"whole": statistics.median(whole), "cuts": statistics.median(cut)}


def measure_send(count: int, cuts: int, port: int) -> dict[str, float]:
    """One send of `count` readers over `cuts` cuts, in this (fresh) process."""
    from digest.delivery.deliver import send_issue
    from digest.delivery.smtp import parse_smtp_url
    from digest.store import Store, StoredIssue
    from digest.tokens import Keys

    folder = Path(tempfile.mkdtemp(prefix="bench-cuts-"))
    config, rendered, data = setup(folder)
    now = datetime(2023, 5, 15, 7, tzinfo=UTC).isoformat()
    wanted = choices(cuts)
    with Store(config.store) as store:  # type: ignore[attr-defined]
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO subscribers (email, status, themes, created_at, updated_at)"
                " VALUES (?, 'confirmed', ?, ?, ?)",
                ((f"user{i}@example.org", wanted[i % len(wanted)], now, now) for i in range(count)),
            )
        moment = datetime.fromisoformat(now)
        r = rendered
        store.save_issue(
            StoredIssue("2023-W19", moment, moment, moment, data, r.html, r.text, r.web,  # type: ignore[attr-defined]
                        "approved")
        )  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, cpu = time.perf_counter(), time.process_time()
        report = send_issue(
            config, store, "2023-W19", lambda: datetime.now(UTC),  # type: ignore[arg-type]
            smtp=parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none"),
            keys=Keys((b"bench-secret-0123456789abcdef",)),
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        in_use = len(store.issue_cuts("2023-W19"))
    assert report.sent == count and in_use == cuts, (report, in_use)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "subscribers": count,
        "seconds": round(wall, 2),
        "per_second": round(count / wall),
        "cpu_seconds": round(cpu, 2),
        "rss_before_send_mb": round(before / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--cuts", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_send(args.child, args.cuts, args.port)))
        return
    if args.cuts:
        times = measure_render(args.cuts, args.repeats)
        print(
            f"render: whole issue ({ITEMS} items, {THEMES} themes) {times['whole'] * 1000:.1f}"
            f" ms, {args.cuts} cuts {times['cuts'] * 1000:.0f} ms"
            f" ({times['cuts'] / args.cuts * 1000:.1f} ms each);"
            f" together {times['whole'] + times['cuts']:.2f} s (median of {args.repeats})"
        )
    receiver, sender = multiprocessing.Pipe(duplex=False)
    sink = multiprocessing.Process(target=run_sink, args=(sender,), daemon=True)
    sink.start()
    port = receiver.recv()
    print(f"sink on 127.0.0.1:{port}; {os.cpu_count()} CPUs; {args.cuts} cuts; default settings")
    try:
        for count in args.subscribers:
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(count), "--port", str(port),
                 "--cuts", str(args.cuts)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{result['subscribers']:>7} readers: {result['per_second']:>5} msg/s"
                f" ({result['seconds']} s wall with the freeze, {result['cpu_seconds']} s CPU),"
                f" peak RSS {result['peak_rss_mb']} MB"
                f" (before sending {result['rss_before_send_mb']} MB)"
            )
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
