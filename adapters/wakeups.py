"""Wake-ups from PostgreSQL: every append to the event store NOTIFYs a channel (eventsourcing does it in the
same transaction), so a projector in another process can start on a write at once instead of at its next poll.

A thread LISTENs on a connection of its own and calls `wake` for each notification; a dropped connection is
opened again a second later. The projector still polls, so a lost notification only delays it by one poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class StoreNotifications:
    """LISTEN on the event store's channel; `wake()` on every NOTIFY (many at once wake once)."""

    def __init__(self, conninfo: str, channel: str, wake: Callable[[], None]) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._wake = wake
        self._stop = threading.Event()
        self._conn: Any = None
        self._thread = threading.Thread(target=self._run, name="store-notifications", daemon=True)

    def start(self) -> StoreNotifications:
        self._thread.start()
        return self

    def _run(self) -> None:
        import psycopg
        from psycopg import sql

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    self._conn = conn
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    while not self._stop.is_set():  # a short wait, so that closing waits little
                        for _ in conn.notifies(timeout=0.1, stop_after=1):
                            self._wake()
            except psycopg.Error as error:
                if not self._stop.is_set():
                    log.warning("listening for event store notifications: %s; again in 1 s", error)
                    self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
