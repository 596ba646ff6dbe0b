"""The `digest` command as staff and cron run it: a real process, for the tests that check
what a person sees (stdout, stderr, exit code)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def digest(config: Path, *args: str, lang: str | None = None) -> subprocess.CompletedProcess[str]:
    """`digest --config CONFIG ARGS...`: no DIGEST_* variable from the test's environment
    (but DIGEST_LANG=`lang` when given), nothing on stdin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    if lang:
        env["DIGEST_LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(config), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=120,
    )
