"""The data dir is the owner's alone: 0700, and every file KeyLedger makes in it 0600 (-wal and -shm included),
however the process's umask reads; what an earlier start left open is tightened (keyledger/wiring.py)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from keyledger.wiring import build_runtime
from tests.integration.conftest import settle

SQLITE_FILES = {"events.sqlite3", "events.sqlite3-wal", "events.sqlite3-shm", "events.read.sqlite3",
                "events.read.sqlite3-wal", "events.read.sqlite3-shm", "events.calls.sqlite3",
                "events.calls.sqlite3-wal", "events.calls.sqlite3-shm", "events.calls.lock", "events.calls.lock-next",
                "events.projecting.lock"}


def modes(data_dir: Path) -> dict[str, int]:
    return {str(path.relative_to(data_dir)): stat.S_IMODE(path.lstat().st_mode)
            for path in [data_dir, *data_dir.rglob("*")]}


def open_to_others(data_dir: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(data_dir).items() if mode & 0o077}


@pytest.fixture
def permissive_umask():
    """The umask most shells start with: without care, files come out 0644 and directories 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_everything_a_running_runtime_made_is_the_owners_alone(permissive_umask, settings, clock, backend):
    runtime = build_runtime(settings, clock=clock)
    try:
        runtime.ledger.register_account("john@example.com", "secret123", "John", clock())
        settle(runtime)
        found = modes(settings.data_path)

        # Check the databases and their companions exist while it runs, and none is open to others.
        assert {"keys/master.key", "keys/jwt.secret"} <= set(found)
        if backend == "sqlite":
            assert SQLITE_FILES <= set(found)
        assert open_to_others(settings.data_path) == {}
        assert found["."] == 0o700 and found["keys"] == 0o700
    finally:
        runtime.close()


def test_a_start_tightens_what_an_earlier_one_left_open_and_says_so_once(permissive_umask, settings, clock,
                                                                        backend, caplog):
    build_runtime(settings, clock=clock, start_projector=False, start_workers=False).close()
    for path in [settings.data_path, *settings.data_path.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="keyledger.wiring"):
        build_runtime(settings, clock=clock, start_projector=False, start_workers=False).close()
        build_runtime(settings, clock=clock, start_projector=False, start_workers=False).close()

    assert open_to_others(settings.data_path) == {}
    # Check one line, on the first of the two starts, naming what it tightened.
    lines = [record.getMessage() for record in caplog.records if "owner-only" in record.getMessage()]
    assert len(lines) == 1, lines
    assert "master.key" in lines[0] and (backend != "sqlite" or "events.sqlite3" in lines[0])
