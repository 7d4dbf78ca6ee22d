"""The production topology under faults: real `keyledger serve` and `keyledger project` processes, PostgreSQL
backends terminated, a private Redis stopped and started, processes killed.

Every test ends the same way (`assert_nothing_lost_nothing_twice`): no answer was a 500; every
acknowledged license is in the event store, and the store holds no license nobody asked for;
the read models hold every event once and equal a rebuild, row for row.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.utils import get_topic

from domain.license import License
from keyledger.settings import Settings
from keyledger.wiring import build_runtime
from projections import licenses
from tests.conftest import LIMITS_OFF_ENV, POSTGRES_URL, throwaway_schema
from tests.e2e.conftest import Server, free_port
from tests.faults.http_traffic import Traffic
from tests.integration.conftest import differences, snapshot
from tests.traffic import license_rows_are_sane

pytestmark = pytest.mark.faults


def process_env(database_url: str | None, **settings: str) -> dict[str, str]:
    """What every process of one deployment shares: its database, an application name to find its backends by,
    cheap password hashing; and the given KEYLEDGER_* settings."""
    env = {**os.environ, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST", "PGAPPNAME": f"klfault-{uuid.uuid4().hex[:8]}",
           **LIMITS_OFF_ENV}
    if database_url:
        env["KEYLEDGER_DATABASE_URL"] = database_url
    env.update({f"KEYLEDGER_{name.upper()}": value for name, value in settings.items()})
    return env


def start_server(data_dir: Path, env: dict[str, str], workers: int = 1) -> Server:
    server = Server(data_dir, env.get("KEYLEDGER_DATABASE_URL"), workers=workers)
    server.env = {**env, "KEYLEDGER_WORKERS": str(workers)}
    server.start()
    return server


class CliProcess:
    """A `keyledger COMMAND` process of one deployment; its output goes to a log file beside the data dir."""

    command = ""

    def __init__(self, data_dir: Path, env: dict[str, str], name: str) -> None:
        self.env = {**env, "KEYLEDGER_DATA_DIR": str(data_dir)}
        self.log_path = data_dir.parent / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "keyledger.cli", self.command], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: no chance to finish a batch or let go of anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Projector(CliProcess):
    """A `keyledger project` process."""

    command = "project"


class BackendTerminator:
    """Terminates every PostgreSQL backend of one deployment (by its application name) every `interval` s."""

    def __init__(self, application_name: str, interval: float = 0.7) -> None:
        self.application_name = application_name
        self.interval = interval
        self.terminated = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendTerminator:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            while not self._stop.wait(self.interval):
                self.terminated += admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                    (self.application_name,)).fetchone()[0]


class PrivateRedis:
    """A Redis server of the test's own on a free port, to stop and start at will."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway schema of the test PostgreSQL (a fault test of its own: terminating backends needs it)."""
    with throwaway_schema("kl_faults") as schema:
        yield f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    yield redis
    redis.stop()


def settings_of(data_dir: Path, env: dict[str, str]) -> Settings:
    return Settings(data_dir=str(data_dir), database_url=env.get("KEYLEDGER_DATABASE_URL"),
                    password_profile="CHEAPEST", run_projections=False, run_workers=False)


def assert_nothing_lost_nothing_twice(data_dir: Path, env: dict[str, str], traffic: Traffic) -> None:
    """Run with every process of the deployment stopped: checks the store and the read models it left."""
    assert traffic.server_errors == [], traffic.server_errors[:5]
    assert traffic.unanswered_503s == [], traffic.unanswered_503s[:5]
    assert traffic.unresolved == set(), "writes whose outcome the traffic never learnt"
    runtime = build_runtime(settings_of(data_dir, env), start_projector=False, start_workers=False)
    try:
        issued = {n.originator_id for n in runtime.ledger.recorder.select_notifications(
            start=1, limit=10_000_000, topics=[get_topic(License.Issued)])}
        # Check nothing acknowledged is missing, and nothing was issued that no request was answered for.
        assert traffic.acknowledged - issued == set()
        assert issued - traffic.acknowledged == set()
        # Check the read models hold each event once: what a replay of the whole store builds.
        runtime.projector.catch_up()
        rows = licenses.list_licenses(runtime.store, None, runtime.clock(), limit=1_000_000)[0]
        assert license_rows_are_sane(rows) == []
        incremental = snapshot(runtime, [], sorted(issued))
        runtime.projector.rebuild()
        rebuilt = snapshot(runtime, [], sorted(issued))
        assert rebuilt == incremental, differences(rebuilt, incremental)
    finally:
        runtime.close()
