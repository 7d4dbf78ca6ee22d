"""Key files: created once with mode 0600, read back on later starts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """Return the file's bytes, creating it first (0600, atomically) if it does not exist.

    O_EXCL makes two processes starting at once agree on one key: the loser reads the
    winner's file instead of overwriting it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "wb") as file:
        file.write(make())
    return path.read_bytes()


def _read_when_written(path: Path) -> bytes:
    import time

    for _ in range(100):
        data = path.read_bytes()
        if data:
            return data
        time.sleep(0.01)
    raise RuntimeError(f"key file {path} stayed empty")
