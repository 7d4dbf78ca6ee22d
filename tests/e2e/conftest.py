"""A real `keyledger serve` process on a free port, over SQLite or a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LIMITS_OFF_ENV, POSTGRES_URL, throwaway_schema


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`keyledger serve` on a free port; output goes to a log file (a pipe could fill and block it)."""

    def __init__(self, data_dir: Path, database_url: str | None = None, workers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.base = self.root + "/api"
        self.log_path = data_dir.parent / "server.log"
        # Webhook URLs may name 127.0.0.1 only (and, being https-only with private addresses refused, none
        # registers): no URL a test generates makes the server look up or reach another host.
        self.env = {**os.environ, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST", "KEYLEDGER_WEBHOOK_HOSTS": "127.0.0.1",
                    **LIMITS_OFF_ENV}
        if database_url:
            self.env["KEYLEDGER_DATABASE_URL"] = database_url
        self.env["KEYLEDGER_WORKERS"] = str(workers)
        self.process: subprocess.Popen[bytes] | None = None
        self.killed = False

    def start(self) -> None:
        command = [sys.executable, "-m", "keyledger.cli", "serve", "--port", str(self.port),
                   "--data-dir", str(self.data_dir)]
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # a group of its own, workers included
        self.killed = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keyledger serve exited:\n{self.log_tail()}")
            try:
                httpx.get(f"{self.base}/client/public-key", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"keyledger serve did not answer within 30 s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it; after 15 s, SIGKILL to the whole group (`killed` says so), so no
        worker process outlives the test holding its database."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the embedded SQLite default; a throwaway PostgreSQL schema's URL otherwise."""
    if request.param == "sqlite":
        yield None
        return
    with throwaway_schema("kl_e2e") as schema:
        yield f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture
def server(backend_url: str | None, tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "var", backend_url)
    try:
        server.start()
        yield server
    finally:
        server.stop()
