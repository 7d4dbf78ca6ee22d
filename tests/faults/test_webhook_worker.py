"""Webhooks in the production topology: `keyledger serve` + `keyledger worker` (arq on a private Redis), on
SQLite (one host) and PostgreSQL. A worker killed with SIGKILL mid-delivery, and Redis flushed while
deliveries were queued, or Redis down for a while, lose no delivery."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import backend_url  # noqa: F401 - the fixture: SQLite, or a PostgreSQL schema
from tests.faults.conftest import CliProcess, PrivateRedis, process_env, start_server
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.faults

LICENSES = 60


class Worker(CliProcess):
    """A `keyledger worker` process."""

    command = "worker"


class SlowReceiver(Receiver):
    """Answers after a pause, so a killed worker leaves deliveries in flight."""

    def __init__(self, pause: float) -> None:
        super().__init__()
        handler = self.server.RequestHandlerClass
        original = handler.do_POST

        def do_post(request) -> None:  # type: ignore[no-untyped-def]
            time.sleep(pause)
            original(request)

        handler.do_POST = do_post


@pytest.mark.parametrize("fault", ["worker killed, Redis flushed", "Redis down for a while"])
def test_a_killed_worker_and_a_flushed_redis_lose_no_delivery(backend_url, private_redis: PrivateRedis,  # noqa: F811
                                                               tmp_path: Path, fault: str) -> None:
    env = process_env(backend_url, redis_url=private_redis.url, run_workers="false", webhook_allow_private="true",
                      webhook_hosts="127.0.0.1", webhook_sweep_interval="0.5", webhook_timeout="2")
    data_dir = tmp_path / "var"
    server = start_server(data_dir, env)
    worker = Worker(data_dir, env, "worker")
    worker.start()
    with SlowReceiver(pause=0.1) as receiver:
        try:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                headers, product = vendor_hooked_to(client, receiver)
                issued: list[str] = []

                def issue() -> None:  # a steady stream of license changes
                    for _ in range(LICENSES):
                        answer = client.post("/licenses", json={"product_id": product}, headers=headers)
                        issued.append(answer.json()["data"]["id"])
                        time.sleep(0.02)

                stream = threading.Thread(target=issue)
                stream.start()
                receiver.wait_for(lambda r: len(r.received) >= 10, timeout=30)
                if fault == "Redis down for a while":  # the worker lives on, its queue out of reach
                    private_redis.stop()
                    time.sleep(3)
                    private_redis.start()
                else:
                    worker.kill()  # mid-delivery: the receiver holds each request for 0.1 s
                    subprocess.run(["redis-cli", "-p", str(private_redis.port), "FLUSHALL"], check=True,
                                   capture_output=True)  # the test's own Redis: whatever was queued is gone
                    time.sleep(1)
                    worker.start()
                stream.join()
                receiver.wait_for(lambda r: {item.json["data"]["license_id"] for item in r.received} >= set(issued),
                                  timeout=60)
                # A delivery the killed worker made but never recorded is sent again once its lease lapses.
                give_up = time.monotonic() + 60
                while delivery_states(backend_url, data_dir) != {"delivered": LICENSES} and time.monotonic() < give_up:
                    time.sleep(0.5)
        finally:
            worker.stop()
            server.stop()

    received = [item.json["data"]["license_id"] for item in receiver.received]
    assert len(issued) == LICENSES and set(received) == set(issued)
    assert delivery_states(backend_url, data_dir) == {"delivered": LICENSES}


def vendor_hooked_to(client: httpx.Client, receiver: Receiver) -> tuple[dict[str, str], str]:
    """A new vendor's headers and product, with a webhook of `license.created` to the receiver."""
    token = client.post("/auth/register", json={"email": "v@example.com", "password": "secret123"}
                        ).json()["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/webhooks", json={"url": receiver.url, "events": ["license.created"]},
                       headers=headers).status_code == 201
    return headers, client.post("/products", json={"name": "App"}, headers=headers).json()["data"]["id"]


def delivery_states(backend_url: str | None, data_dir: Path) -> dict[str, int]:
    query = "SELECT state, COUNT(*) FROM {}webhook_deliveries GROUP BY state"
    if backend_url is None:
        with sqlite3.connect(data_dir / "events.read.sqlite3") as conn:
            return dict(conn.execute(query.format("")).fetchall())
    schema = backend_url.rpartition("schema=")[2]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        return dict(conn.execute(query.format(f'"{schema}".')).fetchall())


def test_deployments_sharing_one_redis_each_deliver_their_own_webhooks_at_once(private_redis: PrivateRedis,
                                                                              tmp_path: Path) -> None:
    """Two deployments, one Redis: each worker takes only its own deployment's jobs. A worker that took the
    other's would find no such delivery in its database, and that webhook would wait for its own sweep."""
    deployments = []
    with ExitStack() as stack:  # at the end: each worker, server and receiver stopped
        for name in ("a", "b"):
            env = process_env(None, redis_url=private_redis.url, run_workers="false", webhook_allow_private="true",
                              webhook_hosts="127.0.0.1", webhook_sweep_interval="60")
            data_dir = tmp_path / name / "var"
            receiver = stack.enter_context(Receiver())
            server = start_server(data_dir, env)
            stack.callback(server.stop)
            worker = Worker(data_dir, env, "worker")
            worker.start()
            stack.callback(worker.stop)
            deployments.append((server, receiver, []))
        for server, receiver, issued in deployments:
            with httpx.Client(base_url=server.base, timeout=30) as client:
                headers, product = vendor_hooked_to(client, receiver)
                issued += [client.post("/licenses", json={"product_id": product}, headers=headers).json()["data"]["id"]
                           for _ in range(10)]
        for _, receiver, issued in deployments:  # well before either's next sweep
            receiver.wait_for(lambda r, want=set(issued): {i.json["data"]["license_id"] for i in r.received} == want,
                              timeout=15)
