"""Helpers for the site tests: a config in tmp_path and the real app under uvicorn on loopback.

`running_site` binds 127.0.0.1:0 first, so that the config's base_url (the links in the
confirmation email) names the port the server really listens on.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn

from digest.config import Config, load_config
from digest.delivery.smtp import parse_smtp_url
from digest.tokens import Keys
from digest.web import create_app

KEYS = Keys((b"test-secret-key-0123456789abcdef",))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 5, 11, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def write_config(
    folder: Path, base_url: str, extra: str = "", language: str = "fr", newsletter: str = ""
) -> Path:
    """feeds.yaml for a site; `newsletter` adds indented lines to its newsletter block."""
    (folder / "recaps").mkdir(exist_ok=True)
    path = folder / "feeds.yaml"
    path.write_text(
        "newsletter:\n"
        '  title: "Lettre du Cerdd"\n'
        f"  language: {language}\n"
        f'  base_url: "{base_url}"\n'
        '  sender: "Lettre du Cerdd <lettre@example.org>"\n' + newsletter + "sources:\n"
        '  - name: "Récits"\n'
        "    path: recaps\n"
        "store: digest.db\n" + extra,
        encoding="utf-8",
    )
    return path


@dataclass
class RunningSite:
    url: str
    config: Config
    clock: Clock


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread is not the main thread
        pass


@contextmanager
def serve(app: object, sock: socket.socket) -> Iterator[None]:
    """Run `app` under uvicorn in a thread on the already-bound `sock`."""
    config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def running_site(
    folder: Path,
    smtp_url: str,
    extra: str = "",
    language: str = "fr",
    clock: Clock | None = None,
    newsletter: str = "",
) -> Iterator[RunningSite]:
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = load_config(write_config(folder, url, extra, language, newsletter))
    clock = clock or Clock()
    app = create_app(config, keys=KEYS, smtp=parse_smtp_url(smtp_url), clock=clock)
    with serve(app, sock):
        yield RunningSite(url, config, clock)


def link_in(body: str, base: str, kind: str) -> str:
    found = re.search(re.escape(base) + rf"/{kind}/[A-Za-z0-9._-]+", body)
    assert found, f"no {kind} link in:\n{body}"
    return found.group(0)
