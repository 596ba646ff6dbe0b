"""Messages per second of `send_issue`, and its peak memory, against a loopback SMTP sink.

The sink is a minimal asyncio SMTP server in its own process (so it does not take the GIL
from the sender) that accepts every message at once. Each measurement runs in a fresh
child process, so its peak RSS (`ru_maxrss`) is its own: comparing 10,000 and 100,000
subscribers shows whether memory grows with the list. The outbox is committed durably
(`PRAGMA synchronous=FULL`, as `send_issue` sets it). The issue is the golden 2023-W19
email of the tests (27 KB of HTML).

    .venv/bin/python bench/bench_send.py [--subscribers 10000 100000] [--connections 4]
        [--batch 100] [--dkim]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

GOLDEN = ROOT / "tests" / "golden"
CONFIG = """newsletter:
  title: "Lettre du Cerdd"
  base_url: "https://lettre.example.org"
  sender: "Lettre du Cerdd <lettre@example.org>"
sources:
  - name: "Récits"
    path: recaps
store: digest.db
delivery:
  connections: {connections}
  batch: {batch}
{dkim}"""


class SinkProtocol(asyncio.Protocol):
    """Just enough SMTP for smtplib: 250 to everything, 354 to DATA, counts messages."""

    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                SinkProtocol.count += 1
                self.transport.write(b"250 OK\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                return
            self.buffer = rest
            self.command(line[:4].upper())

    def command(self, verb: bytes) -> None:
        if verb == b"EHLO":
            self.transport.write(b"250-sink\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n")
        elif verb == b"DATA":
            self.in_data = True
            self.transport.write(b"354 go on\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 bye\r\n")
            self.transport.close()
        else:
            self.transport.write(b"250 OK\r\n")


def run_sink(port_pipe: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(SinkProtocol, "127.0.0.1", 0)
        port_pipe.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def measure(count: int, connections: int, batch: int, port: int, dkim: bool) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    from digest.config import load_config
    from digest.delivery.deliver import send_issue
    from digest.delivery.smtp import parse_smtp_url
    from digest.store import Store, StoredIssue
    from digest.tokens import Keys

    folder = Path(tempfile.mkdtemp(prefix="bench-send-"))
    (folder / "recaps").mkdir()
    signing = ""
    if dkim:
        key = folder / "dkim.pem"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
        )
        signing = "  dkim_key: dkim.pem\n  dkim_selector: bench\n"
    text = CONFIG.format(connections=connections, batch=batch, dkim=signing)
    (folder / "feeds.yaml").write_text(text, encoding="utf-8")
    config = load_config(folder / "feeds.yaml")
    now = datetime(2023, 5, 15, 7, tzinfo=UTC)
    with Store(config.store) as store:
        with store.transaction() as db:
            db.executemany(
                "INSERT INTO subscribers (email, status, created_at, updated_at)"
                " VALUES (?, 'confirmed', ?, ?)",
                ((f"user{i}@example.org", now.isoformat(), now.isoformat()) for i in range(count)),
            )
        store.save_issue(
            StoredIssue(
                "2023-W19", now, now, now,
                (GOLDEN / "build-2023-W19.json").read_text("utf-8"),
                (GOLDEN / "digest.html").read_text("utf-8"),
                (GOLDEN / "digest.txt").read_text("utf-8"),
                "", "approved",
            )
        )  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, cpu = time.perf_counter(), time.process_time()
        report = send_issue(
            config, store, "2023-W19", lambda: datetime.now(UTC),
            smtp=parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none"),
            keys=Keys((b"bench-secret-0123456789abcdef",)),
        )  # fmt: skip
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert report.sent == count, report
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "subscribers": count,
        "seconds": round(wall, 2),
        "per_second": round(count / wall),
        "cpu_seconds": round(cpu, 2),
        "rss_before_send_mb": round(before / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "db_mb": round(config.store.stat().st_size / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--dkim", action="store_true", help="sign every message (RSA 2048)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.child, args.connections, args.batch, args.port, args.dkim)
        print(json.dumps(result))
        return
    receiver, sender = multiprocessing.Pipe(duplex=False)
    sink = multiprocessing.Process(target=run_sink, args=(sender,), daemon=True)
    sink.start()
    port = receiver.recv()
    print(f"sink on 127.0.0.1:{port}; {os.cpu_count()} CPUs; connections={args.connections}"
          f" batch={args.batch} dkim={args.dkim}")  # fmt: skip
    try:
        for count in args.subscribers:
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(count), "--port", str(port),
                 "--connections", str(args.connections), "--batch", str(args.batch),
                 *(["--dkim"] if args.dkim else [])],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{result['subscribers']:>7} subscribers: {result['per_second']:>5} msg/s"
                f" ({result['seconds']} s wall, {result['cpu_seconds']} s CPU),"
                f" peak RSS {result['peak_rss_mb']} MB"
                f" (before sending {result['rss_before_send_mb']} MB), store {result['db_mb']} MB"
            )
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
