"""The rate limiter's cost on a whole validation, in one process: CPU a validation with the limiter on and off.

Two embedded runtimes in this process, one with limits no run reaches (every call counted, none refused) and
one with the limiter off, each with one activated Ed25519 license; their ASGI apps are called directly (no
HTTP, no wrk, no second server for the scheduler to favour), 16 validations in flight, in interleaved rounds.
The figures are CPU per validation, the process's and the event loop thread's alone (the request's own path),
each as the median and the least of the rounds (bench/README.md, decisions 0072 and 0087).

    .venv/bin/python bench/limiter_app.py [rounds]
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import anyio  # noqa: E402
from litestar.testing import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from keyledger.settings import Settings  # noqa: E402
from keyledger.wiring import build_runtime  # noqa: E402

IN_FLIGHT, PER_ROUND = 16, 2000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server(limit: int) -> tuple[TestClient[Any], Any, bytes]:
    """A started embedded app (limits at `limit`, 0: off) and the body of a validation it grants."""
    settings = Settings(data_dir=tempfile.mkdtemp(prefix="kl-limiter-"), password_profile="CHEAPEST",
                        rate_limit_api=limit, rate_limit_validation=limit, rate_limit_client_ip=limit,
                        brute_force_logins=0, brute_force_unknown_keys=0)
    app = create_app(build_runtime(settings))
    client = TestClient(app=app).__enter__()  # runs the app's startup; the portal's loop serves the rounds
    token = client.post("/api/auth/register", json={"email": "b@example.com", "password": "secret123",
                                                    "display_name": "b"}).json()["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    product = client.post("/api/products", json={"name": "bench", "signing_algorithm": "ed25519"},
                          headers=headers).json()["data"]
    license = client.post("/api/licenses", json={"product_id": product["id"], "type": "subscription"},
                          headers=headers).json()["data"]
    body = {"license_key": license["license_key"], "hwid": "pc-1", "product_id": product["id"]}
    assert client.post("/api/client/activate", json=body).status_code == 200
    return client, app, json.dumps(body).encode()


async def validate(app: Any, body: bytes) -> None:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/client/validate", "raw_path": b"/api/client/validate", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {},
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"content-length", b"%d" % len(body))]}
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent


async def round_of(app: Any, body: bytes, count: int) -> tuple[float, float]:
    """CPU µs a validation over `count` validations, IN_FLIGHT at a time: the process's, and the event loop
    thread's alone (the request's own path, without the signer and the threads that follow the call log)."""
    async def one_client() -> None:
        for _ in range(count // IN_FLIGHT):
            await validate(app, body)

    started, loop_started = cpu_seconds(), time.thread_time()
    async with anyio.create_task_group() as group:
        for _ in range(IN_FLIGHT):
            group.start_soon(one_client)
    return (cpu_seconds() - started) / count * 1e6, (time.thread_time() - loop_started) / count * 1e6


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    servers = {"on": server(10**12), "off": server(0)}
    for client, app, body in servers.values():
        client.blocking_portal.call(round_of, app, body, 400)  # warm up
    figures: dict[str, dict[str, list[float]]] = {"process": {name: [] for name in servers},
                                                  "event loop": {name: [] for name in servers}}
    for _ in range(rounds):
        for name, (client, app, body) in servers.items():
            process, loop = client.blocking_portal.call(round_of, app, body, PER_ROUND)
            figures["process"][name].append(process)
            figures["event loop"][name].append(loop)
    print(f"load average {os.getloadavg()[0]:.2f}, {rounds} rounds of {PER_ROUND} validations, {IN_FLIGHT} in flight")
    for what, cpu in figures.items():
        median = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
        least = {name: min(values) for name, values in cpu.items()}
        for name, values in cpu.items():
            print(f"{what}, limiter {name:3}: {median[name]:5.0f} µs CPU a validation, least {least[name]:5.0f} "
                  f"(rounds: {', '.join(f'{value:.0f}' for value in values)})")
        print(f"{what} cost: {1 - median['off'] / median['on']:.1%} (medians), "
              f"{1 - least['off'] / least['on']:.1%} (least rounds)")
    os._exit(0)  # the runtimes' threads are not worth a clean shutdown here


if __name__ == "__main__":
    main()
