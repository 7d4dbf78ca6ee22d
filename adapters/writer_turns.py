"""Writers of one SQLite file in several processes take turns through a kernel lock on a file beside it.

SQLite's own write lock is polled: a writer that finds it taken sleeps up to 100 ms between tries,
so a process that commits back to back (a group-commit writer that always has a next batch) can keep
another out for seconds, past any busy timeout. A waiter on `flock` is woken when the lock is let go
and competes for it then. Why: decision 0091.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager


class WriterTurns:
    """One writer at a time across processes: `flock` on `path`. Threads of one process share the
    descriptor, which flock never parts, so they take turns among themselves first."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def turn(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Let go of the file; again is nothing (a closed store is closed again by its application's __del__)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
