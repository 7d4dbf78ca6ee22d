"""Short-lived shared state: replay cache and one-time challenges (in memory, or Redis for many processes).

Both implement api/ports.py's EphemeralStore: `claim` and `take` are atomic, so a value is used at most once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class MemoryStore:
    """One process's store: the embedded default."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._next_sweep = 0.0

    def claim(self, key: str, ttl_seconds: float) -> bool:
        with self._lock:
            self._sweep()
            if key in self._values:
                return False
            self._values[key] = ("1", self._clock() + ttl_seconds)
            return True

    def put(self, key: str, value: str, ttl_seconds: float) -> None:
        with self._lock:
            self._sweep()
            self._values[key] = (value, self._clock() + ttl_seconds)

    def take(self, key: str) -> str | None:
        with self._lock:
            value, expires = self._values.pop(key, (None, 0.0))
            return value if value is not None and expires > self._clock() else None

    def _sweep(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return
        self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._next_sweep = now + 30


class RedisStore:
    """Shared by every API process: SET NX EX to claim, GETDEL to take."""

    def __init__(self, url: str, prefix: str = "keyledger:") -> None:
        import redis

        # Bounded waits: a Redis that hangs answers 503 (api/errors.py) instead of holding the call forever.
        self._redis = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2)
        self._prefix = prefix

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self._redis.set(self._prefix + key, "1", nx=True, px=max(1, int(ttl_seconds * 1000))))

    def put(self, key: str, value: str, ttl_seconds: float) -> None:
        self._redis.set(self._prefix + key, value, px=max(1, int(ttl_seconds * 1000)))

    def take(self, key: str) -> str | None:
        return self._redis.getdel(self._prefix + key)

    def close(self) -> None:
        self._redis.close()
