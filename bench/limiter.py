"""The rate limiter's counting alone: CPU and wall time per hit, in memory and in Redis, from the event loop.

Each request of a validation counts two keys (client and address). Measured here without HTTP, so that
a machine shared with other work disturbs it less than the wrk rows of bench/validate.py do:

- memory (`MemoryCounters.hit_async`), the embedded default;
- Redis through the counting thread (`RedisCounters.hit_async`: one script call for every request that
  asked while the previous call was out), with 1 and with 16 requests in flight;
- Redis with slices of a large limit in hand (no round trip after a key's first, decision 0050);
- Redis with the blocking call (`RedisCounters.hit`), as handlers on worker threads count.

    .venv/bin/python bench/limiter.py          # Redis at KEYLEDGER_BENCH_REDIS_URL (default db 15)
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.counters import MemoryCounters, RedisCounters  # noqa: E402

REDIS_URL = os.environ.get("KEYLEDGER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
HITS = 4000


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def per_hit(counters: MemoryCounters | RedisCounters, in_flight: int, slices: list[int] | None = None
                  ) -> tuple[float, float]:
    """(wall µs, CPU µs) per request of two keys, `in_flight` requests at a time."""
    async def client(n: int) -> None:
        for _ in range(HITS // in_flight):
            await counters.hit_async([f"v:{n}", "c:203.0.113.9"], [60, 60], slices or [1, 1])

    wall, cpu = time.perf_counter(), cpu_seconds()
    await asyncio.gather(*(client(n) for n in range(in_flight)))
    return (time.perf_counter() - wall) / HITS * 1e6, (cpu_seconds() - cpu) / HITS * 1e6


async def main() -> None:
    redis = RedisCounters(REDIS_URL, prefix=f"klbench:{uuid.uuid4().hex[:8]}:")
    memory = MemoryCounters()
    for _ in range(2):  # the second pass is the one to read: connections and thread are up
        rows = []
        for name, counters, slices in (("memory", memory, None), ("redis, counting thread", redis, None),
                                       ("redis, slices in hand", redis, [10**10, 10**10])):
            for in_flight in (1, 16):
                wall, cpu = await per_hit(counters, in_flight, slices)
                rows.append(f"{name:24} {in_flight:3} in flight  {wall:8.1f} µs wall  {cpu:7.1f} µs CPU a request")
        wall, cpu = time.perf_counter(), cpu_seconds()
        for _ in range(HITS // 4):
            redis.hit(["v:blocking", "c:203.0.113.9"], [60, 60])
        rows.append(f"{'redis, blocking call':24} {1:3} in flight  {(time.perf_counter() - wall) / (HITS // 4) * 1e6:8.1f}"
                    f" µs wall  {(cpu_seconds() - cpu) / (HITS // 4) * 1e6:7.1f} µs CPU a request")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("\n".join(rows))
    redis.close()


if __name__ == "__main__":
    asyncio.run(main())
