"""The log of `digest serve`: one timestamped line per event, for the site and for uvicorn.

Why a config of our own: uvicorn's configures its own loggers only (lines without a time),
and the site's `digest.web` logger had no handler, so Python's last-resort handler printed
its warnings bare and dropped its INFO lines (the honeypot's).
"""

from __future__ import annotations

from typing import Any

# 2026-05-11T09:00:00+0200 INFO digest.web: honeypot filled from 203.0.113.7: nothing done
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def log_config() -> dict[str, Any]:
    """The `logging.config.dictConfig` of `digest serve`, given to uvicorn, which applies it
    once before it starts: every line in FORMAT on stderr, from INFO up, for digest's loggers
    (`digest.web`: honeypot hits, confirmation emails not sent, a locked store) and uvicorn's
    (`uvicorn.error`: start, stop, exceptions; `uvicorn.access`: one line per request)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": FORMAT, "datefmt": DATE_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            # uvicorn.error and uvicorn.access write through "uvicorn"; neither reaches the
            # root logger, which stays as it is (a library's stray line is not doubled).
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"level": "INFO"},
            "digest": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
