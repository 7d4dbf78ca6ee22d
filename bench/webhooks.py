"""Webhook benchmark: deliveries per second, and the time from an event's append to its delivery (p50/p99) at a
steady rate of license changes, beside a baseline of plain HTTP POSTs from one process to the same receiver.

Run from the repository root:

    .venv/bin/python bench/webhooks.py                       # SQLite and PostgreSQL, embedded delivery
    .venv/bin/python bench/webhooks.py --quick --backends sqlite

The receiver is a local HTTP server on 127.0.0.1 in this process (so both clocks are one). Each figure is
printed beside the baseline measured in the same run: the ratio is what to compare between runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/webhooks.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

from domain.account import Actor  # noqa: E402
from domain.license import LicenseType  # noqa: E402
from domain.product import SigningAlgorithm  # noqa: E402
from keyledger.settings import Settings  # noqa: E402
from keyledger.wiring import build_runtime  # noqa: E402

POSTGRES_URL = os.environ.get("KEYLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class Receiver:
    """Records when each event id first arrived (monotonic seconds); answers 200 at once."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.count = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # Nagle off: headers and body go out as two writes (else ~40 ms per answer)
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.monotonic()
                license_id = msgspec.json.decode(body).get("data", {}).get("license_id", "")
                with receiver._lock:
                    receiver.count += 1
                    receiver.arrived.setdefault(license_id, now)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(i in self.arrived for i in ids):
                    return
            time.sleep(0.005)
        raise TimeoutError(f"{sum(i not in self.arrived for i in ids)} of {len(ids)} deliveries did not arrive")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def baseline(url: str, count: int) -> dict[str, float]:
    """Plain POSTs of a webhook-sized body, one after another, from one process (kept-alive connection)."""
    body = msgspec.json.encode({"id": str(uuid.uuid4()), "type": "license.created", "created_at": "x",
                                "data": {"license_id": "", "license_key": "X" * 29, "product_id": str(uuid.uuid4())}})
    times = []
    with httpx.Client() as client:
        started = time.monotonic()
        for _ in range(count):
            before = time.monotonic()
            client.post(url, content=body, headers={"Content-Type": "application/json"})
            times.append(time.monotonic() - before)
        elapsed = time.monotonic() - started
    return {"rate": count / elapsed, "p50": percentile(times, 0.5) * 1000, "p99": percentile(times, 0.99) * 1000}


def run_backend(name: str, database_url: str | None, rate: float, seconds: float, burst: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kl-bench-webhooks-"))
    settings = Settings(data_dir=str(data_dir), database_url=database_url, password_profile="CHEAPEST",
                        webhook_allow_private=True, webhook_hosts="127.0.0.1", webhook_sweep_interval=1.0)
    runtime = build_runtime(settings)
    receiver = Receiver()
    try:
        now = datetime.now(timezone.utc)
        actor = Actor(runtime.ledger.register_account("bench@example.com", "secret123", "Bench", now).id)
        product = runtime.ledger.create_product(actor, "Bench", "", SigningAlgorithm.ED25519, now).id
        runtime.ledger.register_webhook(actor, receiver.url, ["license.created"], "whsec_bench_secret", now)

        def issue(count: int) -> tuple[list[str], dict[str, float]]:
            receipt_ids, appended = [], {}
            ids, _ = runtime.ledger.issue_licenses(actor, product, count, LicenseType.LIFETIME, 1, True, None, {},
                                                   datetime.now(timezone.utc))
            done = time.monotonic()
            for license_id in ids:
                receipt_ids.append(str(license_id))
                appended[str(license_id)] = done
            return receipt_ids, appended

        # Steady rate: one license change every 1/rate seconds; latency from its append to its arrival.
        steady_ids, appended = [], {}
        interval, start = 1.0 / rate, time.monotonic()
        for n in range(int(rate * seconds)):
            time.sleep(max(0.0, start + n * interval - time.monotonic()))
            ids, times = issue(1)
            steady_ids += ids
            appended |= times
        receiver.wait(steady_ids, timeout=60)
        latencies = [(receiver.arrived[i] - appended[i]) * 1000 for i in steady_ids]

        # Throughput: a burst appended at once (bulk issues of 100), delivered as fast as the workers go.
        burst_ids, burst_started = [], time.monotonic()
        for _ in range(burst // 100):
            burst_ids += issue(100)[0]
        receiver.wait(burst_ids, timeout=300)
        burst_rate = len(burst_ids) / (max(receiver.arrived[i] for i in burst_ids) - burst_started)
        base = baseline(receiver.url, max(200, burst))
    finally:
        runtime.close()
        receiver.server.shutdown()
    return {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "mean": statistics.mean(latencies),
            "rate": burst_rate, "steady": len(steady_ids), "burst": len(burst_ids), "base_rate": base["rate"],
            "base_p50": base["p50"], "base_p99": base["p99"], "sent": receiver.count}


def postgres_schema() -> tuple[str, str]:
    schema = f"kl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema, f"{POSTGRES_URL}?schema={schema}"


def drop_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--rate", type=float, default=50.0, help="license changes per second in the steady run")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=2000, help="deliveries in the throughput run (x100)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 s at 20/s, a burst of 200")
    args = parser.parse_args()
    if args.quick:
        args.rate, args.seconds, args.burst = 20.0, 2.0, 200
    print(f"{'backend':9} {'measure':38} {'value':>10} {'baseline (plain POSTs, one process)':>38}")
    for backend in args.backends:
        schema, url = postgres_schema() if backend == "postgres" else (None, None)
        try:
            r = run_backend(backend, url, args.rate, args.seconds, args.burst)
        finally:
            if schema:
                drop_schema(schema)
        print(f"{backend:9} {'deliveries/s (burst of %d)' % r['burst']:38} {r['rate']:10.0f} "
              f"{r['base_rate']:32.0f} POST/s  ({r['rate'] / r['base_rate']:.2f}x)")
        print(f"{backend:9} {'append→delivery p50 ms (%d at %g/s)' % (r['steady'], args.rate):38} {r['p50']:10.1f} "
              f"{r['base_p50']:32.1f} ms/POST")
        print(f"{backend:9} {'append→delivery p99 ms':38} {r['p99']:10.1f} {r['base_p99']:32.1f} ms/POST")
        print(f"{backend:9} {'requests the receiver got / deliveries':38} {r['sent']:10d} "
              f"{r['steady'] + r['burst'] + max(200, r['burst']):32d}")


if __name__ == "__main__":
    main()
