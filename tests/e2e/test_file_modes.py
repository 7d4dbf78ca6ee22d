"""`keyledger serve` keeps its data dir to its user: 0700, every file in it 0600, however the shell's umask
reads; a data dir an earlier version left open is tightened on start, with one line in the log."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def open_to_others(data_dir: Path) -> dict[str, str]:
    paths = [data_dir, *data_dir.rglob("*")]
    return {str(path.relative_to(data_dir)): oct(stat.S_IMODE(path.lstat().st_mode)) for path in paths
            if stat.S_IMODE(path.lstat().st_mode) & 0o077}


@pytest.fixture
def permissive_umask():
    previous = os.umask(0o022)  # the server inherits it
    yield
    os.umask(previous)


def test_a_serving_process_keeps_its_data_to_its_user(permissive_umask, backend_url, tmp_path):
    server = Server(tmp_path / "var", backend_url)
    server.start()
    try:
        http = httpx.Client(base_url=server.base, timeout=30)
        assert http.post("/auth/register", json={"email": "a@example.com", "password": "secret123"}).status_code == 201
        names = {path.name for path in server.data_dir.rglob("*")}

        # Check while it runs (the -wal and -shm files exist only then) that nothing is open to others.
        assert {"master.key", "jwt.secret", "rsa-4096.pem"} <= names
        if backend_url is None:
            assert {"events.sqlite3", "events.sqlite3-wal", "events.read.sqlite3-shm", "events.calls.sqlite3"} <= names
        assert open_to_others(server.data_dir) == {}
    finally:
        server.stop()


def test_a_start_tightens_a_data_dir_left_open(permissive_umask, tmp_path):
    server = Server(tmp_path / "var")
    server.start()
    server.stop()
    for path in [server.data_dir, *server.data_dir.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    server.start()
    try:
        assert open_to_others(server.data_dir) == {}
        assert server.log_tail().count("made owner-only what others could read") == 1
        assert httpx.get(f"{server.base}/client/public-key", timeout=10).status_code == 200
    finally:
        server.stop()
