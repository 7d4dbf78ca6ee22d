"""Group commit for client-call records: concurrent calls share one transaction.

Every validation appends a ClientCall record, and on one file the commit (an fsync) costs
more than the rest of the call. Here the first caller to arrive saves every record queued
so far in one `save()`; the others wait for that commit. Each request still returns only
after its own record is durable, so nothing acknowledged is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class _Waiting:
    __slots__ = ("done", "error", "record")

    def __init__(self, record: Any) -> None:
        self.record = record
        self.done = threading.Event()
        self.error: BaseException | None = None


class CallLog:
    """Appends records through `save`, batching whatever arrives while a commit is running."""

    def __init__(self, save: Callable[..., Any]) -> None:
        self._save = save
        self._pending: list[_Waiting] = []
        self._lock = threading.Lock()
        self._leading = False

    def append(self, record: Any) -> None:
        waiting = _Waiting(record)
        with self._lock:
            self._pending.append(waiting)
            lead = not self._leading
            self._leading = True
        if lead:
            self._commit_until_drained()
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error

    def _commit_until_drained(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._leading = False
                    return
            error: BaseException | None = None
            try:
                self._save(*(waiting.record for waiting in batch))
            except BaseException as exc:  # every waiter learns the batch's fate, then the leader goes on
                error = exc
            for waiting in batch:
                waiting.error = error
                waiting.done.set()
