"""Wake-ups from PostgreSQL: every append to the event store NOTIFYs a channel (eventsourcing does it in the
same transaction), so a projector in another process can start on a write at once instead of at its next poll.

A thread LISTENs on a connection of its own, sleeping in `select` until the server sends something, and calls
`wake` for each batch of notifications, and once on each (re)connection for what came while none listened; a
dropped connection is opened again a second later. The projectors still poll, slowly, in case one is lost.
"""

from __future__ import annotations

import logging
import select
import socket
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
        self._stopping, self._stop_signal = socket.socketpair()  # `close` writes one byte: the select returns
        self._conn: Any = None  # the connection listening, while there is one
        self._thread = threading.Thread(target=self._run, name="store-notifications", daemon=True)

    def start(self) -> StoreNotifications:
        self._thread.start()
        return self

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    self._conn = conn
                    self._listen(conn)
            except psycopg.Error as error:
                if not self._stop.is_set():
                    log.warning("listening for event store notifications: %s; again in 1 s", error)
                    self._stop.wait(1.0)

    def _listen(self, conn: Any) -> None:
        from psycopg import sql

        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        self._wake()  # for whatever was appended while no connection listened
        while True:
            ready, _, _ = select.select([conn.fileno(), self._stopping], [], [])
            if self._stopping in ready:
                return
            if any(True for _ in conn.notifies(timeout=0)):  # what has arrived, without waiting for more
                self._wake()

    def close(self) -> None:
        if self._stop.is_set():  # closed already
            return
        self._stop.set()
        self._stop_signal.send(b"\0")
        self._thread.join(timeout=5)
        self._stopping.close()
        self._stop_signal.close()
