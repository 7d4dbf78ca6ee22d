"""Validation throughput: `POST /api/client/validate` under wrk, beside a bare Litestar endpoint.

For an Ed25519 product and an RSA-4096 product, at 32 and 128 connections, on the embedded
default (SQLite, 1 process) and on PostgreSQL + Redis with 2 API processes. Baselines measured
in the same run: a bare Litestar JSON endpoint served by uvicorn with the same settings, and
the rate at which one core signs RSA-4096.

Targets: Ed25519 validate >= 50% of the bare endpoint; RSA-4096 validate >= 80% of
(one core's RSA-4096 signing rate x API processes).

    python bench/validate.py            # 8 s per wrk run
    python bench/validate.py --quick    # 3 s per wrk run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("KEYLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/15"
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{body}'
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def start_keyledger(port: int, data_dir: Path, workers: int, database_url: str | None, redis_url: str | None):
    env = {**os.environ, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST", "KEYLEDGER_WORKERS": str(workers),
           "KEYLEDGER_LOG_LEVEL": "warning"}
    env.pop("KEYLEDGER_DATABASE_URL", None)
    if database_url:
        env["KEYLEDGER_DATABASE_URL"] = database_url
    if redis_url:
        env["KEYLEDGER_REDIS_URL"] = redis_url
    command = [sys.executable, "-m", "keyledger.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_up(f"http://127.0.0.1:{port}/api/client/public-key", process)
    return process


def start_bare(port: int, workers: int):
    command = [sys.executable, str(Path(__file__)), "--serve-bare", str(port), str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_up(f"http://127.0.0.1:{port}/health", process)
    return process


def serve_bare(port: int, workers: int) -> None:
    """A bare Litestar JSON endpoint, served by uvicorn exactly as `keyledger serve` serves the API."""
    import uvicorn

    uvicorn.run("bench.validate:bare_app", factory=True, host="127.0.0.1", port=port,
                workers=workers if workers > 1 else None, log_level="warning")


def bare_app():
    from typing import Any

    from litestar import Litestar, get, post

    @post("/api/client/validate", status_code=200)
    async def validate(data: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "data": {"valid": True, "license": {"type": "subscription", "expires_at": None,
                                                                      "metadata": {}}, "echo": data.get("hwid")}}

    @get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return Litestar(route_handlers=[validate, health])


def prepare(base: str) -> dict[str, dict[str, str]]:
    """A vendor, an Ed25519 and an RSA product, a license each, activated once on the bench device."""
    http = httpx.Client(base_url=base, timeout=60)
    token = http.post("/auth/register", json={"email": "bench@example.com", "password": "secret123"}).json()[
        "data"]["token"]
    http.headers["Authorization"] = f"Bearer {token}"
    bodies = {}
    for algorithm in ("ed25519", "rsa-4096"):
        product = http.post("/products", json={"name": algorithm, "signing_algorithm": algorithm}).json()["data"]
        license = http.post("/licenses", json={"product_id": product["id"], "type": "lifetime"}).json()["data"]
        body = {"license_key": license["license_key"], "hwid": "bench-device", "product_id": product["id"]}
        assert http.post("/client/activate", json=body).status_code == 200
        bodies[algorithm] = body
    return bodies


def wrk(url: str, body: dict[str, str], connections: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(body=json.dumps(body)))
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0 + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def rsa_sign_rate(seconds: float = 3.0) -> float:
    """RSA-4096 PKCS#1 v1.5 / SHA-256 signatures per second on one core (this process, one thread)."""
    sys.path.insert(0, str(ROOT))
    from keys.signing import generate_rsa_private_pem, load_private_key, sign

    key = load_private_key(generate_rsa_private_pem())
    message = b'{"key_id":"x","license":{"type":"subscription"},"valid":true}'
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign(key, message)
        count += 1
    return count / (time.perf_counter() - start)


def run_config(name: str, workers: int, database_url: str | None, redis_url: str | None, seconds: int,
               sign_rate: float) -> list[list[str]]:
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        port, bare_port = free_port(), free_port()
        server = start_keyledger(port, Path(tmp) / "var", workers, database_url, redis_url)
        bare = start_bare(bare_port, workers)
        try:
            bodies = prepare(f"http://127.0.0.1:{port}/api")
            for connections in (32, 128):
                base = wrk(f"http://127.0.0.1:{bare_port}/api/client/validate", bodies["ed25519"], connections, seconds)
                rows.append(_row(name, "bare litestar", connections, base, None))
                for algorithm, body in bodies.items():
                    result = wrk(f"http://127.0.0.1:{port}/api/client/validate", body, connections, seconds)
                    target = 0.5 * base["rps"] if algorithm == "ed25519" else 0.8 * sign_rate * workers
                    rows.append(_row(name, f"validate {algorithm}", connections, result, target))
        finally:
            for process in (server, bare):
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    return rows


def _row(config: str, endpoint: str, connections: int, result: dict[str, float], target: float | None) -> list[str]:
    met = "-" if target is None else ("yes" if result["rps"] >= target and not result["errors"] else "NO")
    return [config, endpoint, str(connections), f"{result['rps']:,.0f}", f"{result['p50']:.1f} ms",
            f"{result['p99']:.1f} ms", str(result["errors"]), "-" if target is None else f"{target:,.0f}", met]


def print_table(rows: list[list[str]]) -> None:
    header = ["config", "endpoint", "conns", "req/s", "p50", "p99", "errors", "target", "met?"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--configs", default="embedded,postgres")
    parser.add_argument("--serve-bare", nargs=2, type=int, metavar=("PORT", "WORKERS"))
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(*args.serve_bare)
        return
    seconds = 3 if args.quick else 8
    sign_rate = rsa_sign_rate()
    print(f"one core signs {sign_rate:,.0f} RSA-4096 signatures/s", flush=True)
    rows: list[list[str]] = []
    if "embedded" in args.configs:
        rows += run_config("embedded (sqlite, 1 proc)", 1, None, None, seconds, sign_rate)
    if "postgres" in args.configs:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            rows += run_config("postgres+redis, 2 procs", 2, f"{POSTGRES_URL}?schema={schema}", REDIS_URL, seconds,
                               sign_rate)
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print_table(rows)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
