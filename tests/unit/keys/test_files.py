"""Key files created by processes starting at once: one key wins, everyone uses it, none is torn."""

import os
import stat
import threading
import time
from pathlib import Path

from keys.files import load_or_create


def test_racing_creators_all_get_the_one_key_that_was_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    starting = threading.Barrier(6)
    results: list[bytes] = []

    def slow_key() -> bytes:  # like RSA-4096 on a slow machine: more than a second
        time.sleep(1.2)
        return os.urandom(32) * 100

    def start() -> None:
        starting.wait()
        results.append(load_or_create(path, slow_key))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 6 and set(results) == {path.read_bytes()}
    assert len(path.read_bytes()) == 3200
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["master.key"]  # no drafts left behind


def test_an_existing_key_is_read_and_never_remade(tmp_path: Path) -> None:
    path = tmp_path / "jwt.secret"
    path.write_bytes(b"kept")

    assert load_or_create(path, lambda: b"new") == b"kept"
    assert path.read_bytes() == b"kept"
