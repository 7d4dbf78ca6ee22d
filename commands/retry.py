"""Optimistic-concurrency retry: the loser of a race re-runs the command on fresh state."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError, RecordConflictError

from domain.errors import ConflictError

P = ParamSpec("P")
R = TypeVar("R")

ATTEMPTS = 30
UNREACHABLE_ATTEMPTS = 3
"""Tries of a command whose store could not be reached (each already retried inside eventsourcing)."""


class ContentionError(ConflictError):
    """Raised when a command lost the race for one aggregate too many times in a row."""


class StoreUnavailableError(Exception):
    """Raised when the event store cannot be reached; nothing was recorded, so the command may be sent again."""


class OutcomeUnknownError(Exception):
    """Raised when a write was sent but the store could not then say whether it was recorded."""


def retry_on_conflict(command: Callable[P, R]) -> Callable[P, R]:
    """Re-run `command` when the store refuses a stale version, or could not be reached (SQLite briefly locked, a
    PostgreSQL connection dropped) before anything was recorded. Each attempt reloads its aggregates, so a retry
    answers with the domain's verdict, never a store error; a write that may be recorded is not retried here."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        unreachable = 0
        for attempt in range(ATTEMPTS):
            try:
                return command(*args, **kwargs)
            except RecordConflictError:
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            except (OperationalError, InterfaceError) as error:
                unreachable += 1
                if unreachable >= UNREACHABLE_ATTEMPTS:
                    raise StoreUnavailableError(command.__name__) from error
                time.sleep(0.1 * unreachable)
        raise ContentionError(command.__name__)

    return wrapper


class KeyedLocks:
    """One lock per aggregate id: writers in this process queue instead of racing on its version.

    Other processes still meet at the store's optimistic check; this only spares the retries.
    """

    def __init__(self) -> None:
        self._locks: dict[object, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, key: object) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
