"""Counters that reset: how many hits a key took in its current window, in memory or in Redis.

Plumbing for the rate limits and the brute-force defence (api/ratelimit.py, api/abuse.py decide). A
window opens at a key's first hit and lasts `window` seconds (INCR, then PEXPIRE on the first).
In Redis every key of a request is counted by one Lua script, in one round trip, atomically, so every
API process sees the same counts. A Redis that cannot be reached fails open to this process's memory
for a few seconds at a time: limits then hold per process, and no request fails because of it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Hit = tuple[int, float]
"""A key's count after this hit, and the seconds until its window closes."""


class MemoryCounters:
    """One process's counters: the embedded default, and the fallback while Redis is unreachable."""

    SWEEP_EVERY = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._counts: dict[str, list[float]] = {}  # key -> [count, window's end]
        self._lock = threading.Lock()
        self._clock = clock
        self._next_sweep = 0.0

    def hit(self, keys: Sequence[str], windows: Sequence[float], slices: Sequence[int] = ()) -> list[Hit]:
        """Count one hit on each key (`slices` only matter to RedisCounters)."""
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._counts = {key: entry for key, entry in self._counts.items() if entry[1] > now}
                self._next_sweep = now + self.SWEEP_EVERY
            counts, hits = self._counts, []
            for key, window in zip(keys, windows, strict=True):  # inline: this runs on every client call
                entry = counts.get(key)
                if entry is None or entry[1] <= now:
                    entry = counts[key] = [0, now + window]
                entry[0] += 1
                hits.append((int(entry[0]), entry[1] - now))
            return hits

    async def hit_async(self, keys: Sequence[str], windows: Sequence[float], slices: Sequence[int] = ()) -> list[Hit]:
        return self.hit(keys, windows)

    def peek(self, key: str) -> int:
        """The key's count in its current window (0 once it closed)."""
        with self._lock:
            entry = self._counts.get(key)
            return int(entry[0]) if entry is not None and entry[1] > self._clock() else 0

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


# KEYS: the keys; ARGV: each key's window in milliseconds, then its slice. Returns the count after each key's
# slice was taken, ms left, count, ms left, ...
HIT_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, ARGV[2 * i])
  local left = redis.call('PTTL', key)
  if left < 0 then
    redis.call('PEXPIRE', key, ARGV[2 * i - 1])
    left = tonumber(ARGV[2 * i - 1])
  end
  out[2 * i - 1] = count
  out[2 * i] = left
end
return out
"""


class RedisCounters:
    """Counters every API process shares; in this process's memory while Redis cannot be reached. Each hit gets a
    number no other hit of its key's window gets; taken in slices (INCRBY), a limit may come early, never late (0050).
    `hit` blocks for the round trip; `hit_async` never blocks the loop: one thread counts waiting requests together."""

    RETRY_AFTER = 5.0
    """Seconds counted in memory after Redis failed, before it is tried again (a dead Redis must not cost
    every request a connection timeout)."""

    def __init__(self, url: str, prefix: str = "keyledger:count:") -> None:
        import redis

        self._errors: tuple[type[Exception], ...] = (redis.exceptions.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._script = self._redis.register_script(HIT_SCRIPT)
        self._prefix = prefix
        self._fallback = MemoryCounters()
        self._down_until = 0.0
        self._queue: queue.SimpleQueue[tuple[Sequence[str], Sequence[float], Sequence[int], Any, Any]] = (
            queue.SimpleQueue())
        self._sender: threading.Thread | None = None
        self._lock = threading.Lock()
        self._leases: dict[str, list[float]] = {}  # key -> [next number, last number, window's end]
        self._leases_lock = threading.Lock()

    def hit(self, keys: Sequence[str], windows: Sequence[float], slices: Sequence[int] = ()) -> list[Hit]:
        if time.monotonic() < self._down_until:
            return self._fallback.hit(keys, windows)
        slices = slices or [1] * len(keys)
        found = self._leased(keys, slices)
        asking: dict[str, list[int]] = {}  # each key still without a number -> the hits of it (a batch repeats keys)
        for index, hit in enumerate(found):
            if hit is None:
                asking.setdefault(keys[index], []).append(index)
        if not asking:
            return found  # type: ignore[return-value]
        # One INCRBY a key: its slice, or as many numbers as it has hits here if that is more.
        taken = {key: max(slices[hits[0]], len(hits)) for key, hits in asking.items()}
        try:
            counted = self._script(keys=[self._prefix + key for key in asking],
                                   args=[arg for key, hits in asking.items()
                                         for arg in (max(1, int(windows[hits[0]] * 1000)), taken[key])])
        except self._errors as error:
            log.warning("counting in memory for %ss: Redis is unreachable: %s", self.RETRY_AFTER, error)
            self._down_until = time.monotonic() + self.RETRY_AFTER
            return self._fallback.hit(keys, windows)
        now = time.monotonic()
        with self._leases_lock:
            for n, (key, hits) in enumerate(asking.items()):
                last, left = int(counted[2 * n]), int(counted[2 * n + 1]) / 1000
                first = last - taken[key] + 1
                for offset, index in enumerate(hits):
                    found[index] = (first + offset, left)
                if slices[hits[0]] > 1:
                    self._leases[key] = [first + len(hits), last, now + left]
        return found  # type: ignore[return-value]

    def _leased(self, keys: Sequence[str], slices: Sequence[int]) -> list[Hit | None]:
        """For each key, the next number of its slice still in hand (None: ask Redis)."""
        now = time.monotonic()
        found: list[Hit | None] = []
        with self._leases_lock:
            if len(self._leases) > 50_000:
                self._leases = {key: lease for key, lease in self._leases.items() if lease[2] > now}
            for key, size in zip(keys, slices, strict=True):
                lease = self._in_hand(key, size, now)
                found.append(None if lease is None else _take(lease, now))
        return found

    def _in_hand(self, key: str, size: int, now: float) -> list[float] | None:
        """The key's lease while a number of it is left and its window is open (call with the leases' lock)."""
        lease = self._leases.get(key) if size > 1 else None
        return lease if lease is not None and lease[0] <= lease[1] and lease[2] > now else None

    async def hit_async(self, keys: Sequence[str], windows: Sequence[float], slices: Sequence[int] = ()) -> list[Hit]:
        if time.monotonic() < self._down_until:
            return self._fallback.hit(keys, windows)
        slices = slices or [1] * len(keys)
        if None not in (found := self._leased_all_or_none(keys, slices)):
            return found  # type: ignore[return-value]
        if self._sender is None:
            with self._lock:
                if self._sender is None:
                    self._sender = threading.Thread(target=self._send_forever, name="rate-limit-counter",
                                                    daemon=True)
                    self._sender.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((keys, windows, slices, loop, future))
        return await future

    def _leased_all_or_none(self, keys: Sequence[str], slices: Sequence[int]) -> list[Hit | None]:
        """Every key's next number from the slices in hand, or [None] taking none, if one key has none left."""
        with self._leases_lock:
            now, leases = time.monotonic(), []
            for key, size in zip(keys, slices):  # a loop, not all(...): this runs on every client call
                lease = self._in_hand(key, size, now)
                if lease is None:
                    return [None]
                leases.append(lease)
            return [_take(lease, now) for lease in leases]

    def _send_forever(self) -> None:
        """Count every request waiting in one script call; answer each on its own loop."""
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            keys = [key for request in batch for key in request[0]]
            found = self.hit(keys, [window for request in batch for window in request[1]],
                             [size for request in batch for size in request[2]])
            answers: dict[asyncio.AbstractEventLoop, list[tuple[Any, list[Hit]]]] = {}
            start = 0
            for request_keys, _, _, loop, future in batch:
                answers.setdefault(loop, []).append((future, found[start:start + len(request_keys)]))
                start += len(request_keys)
            for loop, answered in answers.items():
                try:
                    loop.call_soon_threadsafe(_answer, answered)
                except RuntimeError:  # the loop was closed meanwhile: nobody waits
                    pass

    def peek(self, key: str) -> int:
        if time.monotonic() < self._down_until:
            return self._fallback.peek(key)
        try:
            return int(self._redis.get(self._prefix + key) or 0)
        except self._errors:
            return self._fallback.peek(key)

    def clear(self, key: str) -> None:
        self._fallback.clear(key)
        try:
            self._redis.delete(self._prefix + key)
        except self._errors:
            pass  # the key lapses with its window

    def close(self) -> None:
        self._redis.close()


def _take(lease: list[float], now: float) -> Hit:
    """The lease's next number and the seconds left in its window; the number is used up."""
    hit = (int(lease[0]), lease[2] - now)
    lease[0] += 1
    return hit


def _answer(answered: list[tuple[Any, list[Hit]]]) -> None:
    for future, hits in answered:
        if not future.done():
            future.set_result(hits)
