"""Writers of one SQLite file in several processes take turns through kernel locks on files beside it.

SQLite's own write lock is polled: a writer that finds it taken sleeps up to 100 ms between tries,
so a process that commits back to back (a group-commit writer that always has a next batch) can keep
another out for seconds, past any busy timeout. `flock` alone wakes a waiter when the lock is let go,
but the writer letting go can take it again before the woken one runs (on a busy machine, over and
over), so a writer first takes its place in line (`<path>-next`), then the turn (`<path>`), and only
then leaves the line: whoever waits in line gets the next turn. Why: decision 0091.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager


def _opened(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


class WriterTurns:
    """One writer at a time across processes, in turn: `flock` on `path` and on `path`-next. Threads of
    one process share the descriptors, which flock never parts, so they take turns among themselves
    first."""

    def __init__(self, path: str) -> None:
        self._line = _opened(path + "-next")
        self._turn = _opened(path)

    @contextmanager
    def turn(self) -> Iterator[None]:
        # The one in line holds it while waiting for the turn, so whoever gives up the turn cannot
        # take it straight back: it has to queue behind.
        fcntl.flock(self._line, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._turn, fcntl.LOCK_EX)
        finally:
            fcntl.flock(self._line, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._turn, fcntl.LOCK_UN)

    def close(self) -> None:
        """Let go of the files; again is nothing (a closed store is closed again by its application's __del__)."""
        descriptors, self._line, self._turn = (self._line, self._turn), -1, -1
        for fd in descriptors:
            if fd >= 0:
                os.close(fd)
