"""A least-recently-used cache of aggregates bounded by bytes as well as by entries.

eventsourcing's repository cache counts entries only: 20,000 licenses of 16 KiB of metadata each
(the cap, docs/limits.md) would hold a third of a gigabyte. This one also adds up an estimate of
each aggregate's size when it is put, and lets the oldest go while the total is over its bytes.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any

from eventsourcing.application import Cache

_SCALARS = (int, float, bool, type(None))


def approximate_size(value: Any, depth: int = 0) -> int:
    """Bytes an object and what it holds take, roughly: exact for strings and bytes, which dominate here."""
    if isinstance(value, str | bytes):
        return sys.getsizeof(value)
    if isinstance(value, _SCALARS) or depth > 6:
        return 32
    if isinstance(value, dict):
        return 64 + sum(approximate_size(k, depth + 1) + approximate_size(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 56 + sum(approximate_size(item, depth + 1) for item in value)
    state = getattr(value, "__dict__", None)
    return 64 + (approximate_size(state, depth + 1) if state is not None else 32)


class SizedLRUCache(Cache[Any, Any]):
    """The repository's cache (eventsourcing's `Cache` interface): at most `entries` aggregates and about
    `max_bytes` of them; the least recently used go first."""

    def __init__(self, entries: int, max_bytes: int) -> None:
        super().__init__()
        self.entries = entries
        self.max_bytes = max_bytes
        self.size = 0
        self._held: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, *, evict: bool = False) -> Any:
        with self._lock:
            if evict:
                value, size = self._held.pop(key)
                self.size -= size
                return value
            self._held.move_to_end(key)  # KeyError when absent, as eventsourcing expects
            return self._held[key][0]

    def put(self, key: Any, value: Any) -> None:
        if value is None:
            return
        size = approximate_size(value)
        with self._lock:
            previous = self._held.pop(key, None)
            if previous is not None:
                self.size -= previous[1]
            self._held[key] = (value, size)
            self.size += size
            while self._held and (len(self._held) > self.entries or self.size > self.max_bytes):
                _, (_, dropped) = self._held.popitem(last=False)
                self.size -= dropped

    def size_of(self, value: Any) -> int:
        return approximate_size(value)

    def __len__(self) -> int:
        return len(self._held)

    def __bool__(self) -> bool:
        return True  # the repository asks `if self.cache`: an empty cache is still a cache
