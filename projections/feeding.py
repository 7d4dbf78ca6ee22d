"""Who may write the read models: every projector process at once, or one rebuild alone.

A projector in another process would write past its old position into a rebuild's new empty tables, and the
replay would skip everything before, so a projector holds this lock shared while it runs and `keyledger rebuild`
takes it exclusively or refuses (docs/decisions/0019-rebuild-runs-alone.md). On PostgreSQL it is a session advisory
lock keyed by the schema, on a connection of its own, taken again should the session drop (`ensure`); on SQLite,
`flock` on a file beside the database, since all its writers run on one host. A process's own rebuild is
serialised with its projector by the projector's own lock: this one only keeps other processes out.
"""

from __future__ import annotations

import fcntl
import os
import select
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

PROJECTION_LOCK = 0x4B4C_5052  # "KLPR"; the second key is the schema's hash


class FeedingLock(ABC):
    """Shared while projecting, exclusive while rebuilding; one holder per Projector."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self.state = "none"  # "none", "shared", "exclusive" or "closed"

    def share(self) -> None:
        """Hold it shared, waiting while a rebuild in another process holds it."""
        with self._mutex:
            if self.state == "none":
                self._acquire(shared=True, wait=True)
                self.state = "shared"

    def try_exclusive(self) -> bool:
        """Hold it alone, if no other process projects or rebuilds; converts a shared hold."""
        with self._mutex:
            if not self._acquire(shared=False, wait=False):
                return False
            self.state = "exclusive"
            return True

    def ensure(self) -> None:
        """Hold again what was held, should the hold have been lost (only a database session can lose it)."""

    def back_to(self, state: str) -> None:
        """Return to `state` ("none" or "shared", what it was) after `try_exclusive`."""
        with self._mutex:
            if state == "shared":
                self._downgrade()
            else:
                self._release()
            self.state = state

    def close(self) -> None:
        """Let go and close; closing twice (a runtime closed by its app and by its owner) is harmless."""
        with self._mutex:
            if self.state == "closed":
                return
            self._release()
            self.state = "closed"
            self._close()

    @abstractmethod
    def _acquire(self, shared: bool, wait: bool) -> bool: ...

    @abstractmethod
    def _downgrade(self) -> None:
        """From exclusive back to the shared hold it was converted from."""

    @abstractmethod
    def _release(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...


class FileFeedingLock(FeedingLock):
    """`flock` on a file: converting a hold on the same descriptor never conflicts with itself."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def _acquire(self, shared: bool, wait: bool) -> bool:
        flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(self._fd, flags)
        except BlockingIOError:
            return False
        return True

    def _downgrade(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def _release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _close(self) -> None:
        os.close(self._fd)


class AdvisoryFeedingLock(FeedingLock):
    """A PostgreSQL session advisory lock: a session's own holds never conflict with its requests, so
    taking it exclusively while holding it shared waits only for other sessions."""

    def __init__(self, conninfo: str, schema: str | None) -> None:
        super().__init__()
        self._conninfo = conninfo
        self._schema = schema or "public"
        self._conn: Any = None

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
        return self._conn

    def ensure(self) -> None:
        """Take the shared hold again if PostgreSQL dropped its session (a restart, a terminated backend):
        an idle session that has something to read has been told it is ending. Costs a poll, not a query."""
        import psycopg

        with self._mutex:
            if self.state != "shared" or self._conn is None:
                return
            if not select.select([self._conn.pgconn.socket], [], [], 0)[0]:
                return
            try:
                self._conn.execute("SELECT 1")
                return
            except psycopg.Error:
                self._conn.close()
                self._conn = None
            self._acquire(shared=True, wait=True)

    def _acquire(self, shared: bool, wait: bool) -> bool:
        function = {(True, True): "pg_advisory_lock_shared", (False, False): "pg_try_advisory_lock",
                    (True, False): "pg_try_advisory_lock_shared", (False, True): "pg_advisory_lock"}[shared, wait]
        row = self._connection().execute(f"SELECT {function}(%s, hashtext(%s))::text",
                                         (PROJECTION_LOCK, self._schema)).fetchone()
        return row[0] != "false"  # the waiting forms answer void (""); the trying forms true or false

    def _downgrade(self) -> None:
        self._connection().execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (PROJECTION_LOCK, self._schema))

    def _release(self) -> None:
        import psycopg

        if self._conn is not None and not self._conn.closed:
            try:
                self._conn.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error:  # the session is gone, and its locks with it
                self._conn.close()
                self._conn = None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
