"""Render benchmark: a whole render (Jinja2 + MJML + text + web) of 25 and 500 items.

    .venv/bin/python bench/bench_render.py [--repeat N]

Prints the median and spread of `render_issue` per issue size, and the split for the
25-item issue. The first render (template compilation) is left out: builds render once per
process, but the templates compile once per process too, so steady state is what matters
for the bench while the cold figure is printed apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest.models import Issue
from digest.render import PLACEHOLDERS, render_issue
from digest.render.email import compile_mjml
from digest.render.templates import EMAIL_MJML, EMAIL_TEXT, WEB_HTML, render_template
from digest.render.view import build_view
from tests.golden_plugin import make_config, sized_issue


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start) * 1000)
    return runs


def line(label: str, runs: list[float]) -> str:
    quartiles = statistics.quantiles(runs, n=4)
    return (
        f"{label:<34} median {statistics.median(runs):7.2f} ms"
        f"  (p25 {quartiles[0]:.2f}, p75 {quartiles[2]:.2f}, n={len(runs)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    config = make_config(Path("."))
    for count in (25, 500):
        issue = sized_issue(count)
        start = time.perf_counter()
        result = render_issue(issue, config)
        cold = (time.perf_counter() - start) * 1000
        repeat = args.repeat if count == 25 else max(20, args.repeat // 10)

        def whole(issue: Issue = issue) -> object:
            return render_issue(issue, config)

        print(f"{count} items: {result.html_bytes} bytes of email HTML, first render {cold:.1f} ms")
        print(
            line(
                f"render_issue, {count} items",
                timed(whole, repeat),
            )
        )
    issue = sized_issue(25)
    view = build_view(issue, config)
    context = {"issue": view, "placeholders": PLACEHOLDERS}
    source = render_template(config, EMAIL_MJML, autoescape=True, **context)
    parts: dict[str, Callable[[], object]] = {
        "  view (dates, typography, UTM)": lambda: build_view(issue, config),
        "  Jinja2 email.mjml": lambda: render_template(
            config, EMAIL_MJML, autoescape=True, **context
        ),
        "  MRML compile": lambda: compile_mjml(source, config),
        "  Jinja2 email.txt": lambda: render_template(
            config, EMAIL_TEXT, autoescape=False, **context
        ),
        "  Jinja2 web.html": lambda: render_template(config, WEB_HTML, autoescape=True, issue=view),
    }
    print("split of the 25-item render:")
    for label, action in parts.items():
        print(line(label, timed(action, args.repeat)))


if __name__ == "__main__":
    main()
