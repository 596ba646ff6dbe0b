"""Requests per second of `digest serve` for the home page and for subscribe, 50 clients.

Starts a sink SMTP server (aiosmtpd, accepts and forgets) in this process and `digest serve`
(uvicorn, one worker) in a subprocess on loopback, with the rate limiter off
(`site.rate_limit: false`) so that subscribe measures the app, then drives it with 50
concurrent httpx clients. Bounded in count and time. Prints rps, median and p99 latency.

    .venv/bin/python bench/bench_web.py [--requests 3000] [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

CONFIG = """newsletter:
  title: "Lettre du Cerdd"
  base_url: "http://127.0.0.1:{port}"
  sender: "Lettre du Cerdd <lettre@example.org>"
sources:
  - name: "Récits"
    path: recaps
store: digest.db
site:
  rate_limit: false
"""


class Sink:
    """Accepts every message and keeps only a count."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


class SinkController(Controller):
    def _trigger_server(self) -> None:  # port 0: read back the real port first
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@dataclass
class Result:
    name: str
    done: int
    errors: int
    seconds: float
    latencies: list[float]

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        return (
            f"{self.name:<10} {self.done:>6} requests in {self.seconds:5.1f} s:"
            f" {self.done / self.seconds:7.0f} req/s, median {statistics.median(ms):6.1f} ms,"
            f" p99 {p99:6.1f} ms, errors {self.errors}"
        )


def drain(sink: Sink, quiet: float = 2.0, cap: float = 60.0) -> int:
    """Wait until the sink has received nothing for `quiet` seconds; the count by then."""
    deadline, last, since = time.monotonic() + cap, -1, time.monotonic()
    while time.monotonic() < deadline:
        if sink.count != last:
            last, since = sink.count, time.monotonic()
        elif time.monotonic() - since > quiet:
            break
        time.sleep(0.1)
    return sink.count


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process (Linux /proc): what the app costs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, smtp_port: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (folder / "recaps").mkdir()
    (folder / "feeds.yaml").write_text(CONFIG.format(port=port), encoding="utf-8")
    env = {
        **os.environ,
        "DIGEST_SECRET": "bench-secret-0123456789abcdef",
        "DIGEST_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}?tls=none",
    }
    command = [sys.executable, "-m", "digest", "--config", str(folder / "feeds.yaml"),
               "serve", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("digest serve did not start")


async def drive(name: str, url: str, total: int, clients: int, seconds: float) -> Result:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        home = await client.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert csrf, "no CSRF token on the home page"
        counter = iter(range(total))
        latencies: list[float] = []
        errors = 0
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal errors
            for n in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                try:
                    if name == "home":
                        response = await client.get("/")
                    else:
                        form = {"email": f"bench{n}@example.org", "website": "", "csrf": csrf[1]}
                        response = await client.post("/subscribe", data=form)
                except httpx.HTTPError:  # counted, not fatal: a benchmark reports them
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return Result(name, len(latencies), errors, time.perf_counter() - started, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="per scenario")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="cap per scenario")
    args = parser.parse_args()
    sink = Sink()
    controller = SinkController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(Path(folder), controller.port)
        try:
            asyncio.run(drive("warm-up", url, 200, args.clients, 10))
            for name in ("home", "subscribe"):
                cpu = cpu_seconds(process.pid)
                result = asyncio.run(drive(name, url, args.requests, args.clients, args.seconds))
                used = (cpu_seconds(process.pid) - cpu) / max(result.done, 1) * 1000
                print(f"{result.line()}, server CPU {used:.2f} ms/request")
            expected = 200 + args.requests  # warm-up and subscribe both subscribe new addresses
            print(f"confirmation emails: {drain(sink)} received of {expected} asked for")
        finally:
            process.terminate()
            process.wait(10)
            controller.stop()
    print(
        f"clients: {args.clients}, machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
