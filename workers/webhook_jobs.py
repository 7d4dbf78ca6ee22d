"""arq on Redis: webhook delivery jobs and the sweep, for `keyledger worker` (production, any number of hosts).

A job is only a nudge to attempt one delivery (workers/deliveries.py, the same code the embedded default
runs); the database says whether it is due and who holds it. Job ids name the delivery and its attempt
count, so a sweep finding a delivery still queued adds no second job. Redis flushed or a job lost: the
next sweep queues the delivery again. Each deployment has a queue of its own (keyledger/wiring.py), so
deployments sharing one Redis never take each other's jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func
from redis.exceptions import RedisError

from workers.deliveries import Deliverer, Due

log = logging.getLogger(__name__)

JOB = "deliver_webhook"
REDIS_RETRY_SECONDS = 1.0
MAX_JOBS = 16
"""Deliveries one worker process attempts at once (each waits on its endpoint in a thread)."""


def job_id(queue: str, due: Due) -> str:
    """Named after the queue too: arq keeps one job of a name across all queues, so a job left in another
    queue (a version that shared one queue among deployments) must not stand in for this one."""
    return f"{queue}:{due.id}:{due.attempts}"


class ArqDelivery:
    """An arq worker that attempts deliveries, sweeps every `interval` seconds, and takes the dispatcher's
    new deliveries from any thread (`enqueue`). `queue` is the deployment's own: a worker sharing Redis with
    another deployment never takes its jobs."""

    def __init__(self, deliverer: Deliverer, redis_url: str, interval: float, job_timeout: float, queue: str) -> None:
        self.deliverer = deliverer
        self.queue = queue
        self.interval = interval
        self.redis_url = redis_url
        self.job_timeout = job_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: Any = None
        self._sweeper: asyncio.Task[None] | None = None

    def _worker(self) -> Worker:
        return Worker(functions=[func(self._deliver, name=JOB)], queue_name=self.queue,
                      redis_settings=RedisSettings.from_dsn(self.redis_url), on_startup=self._started,
                      on_shutdown=self._stopping, keep_result=0, max_jobs=MAX_JOBS,
                      job_timeout=self.job_timeout, poll_delay=0.05, log_results=False)

    def run(self) -> None:
        """Until SIGTERM or SIGINT (arq's own handlers). arq gives up when Redis goes away: a worker starts
        again once it is back, and the sweep queues what is due, so nothing waits on the lost queue."""
        while True:
            try:
                self._worker().run()
                return
            except (RedisError, OSError) as error:
                self._loop = None
                log.warning("Redis unreachable, webhook delivery paused; trying again in %ss: %s",
                            REDIS_RETRY_SECONDS, error)
                time.sleep(REDIS_RETRY_SECONDS)
                asyncio.set_event_loop(asyncio.new_event_loop())  # arq closed the loop it ran on

    def enqueue(self, delivery_ids: list[str]) -> None:
        """Queue fresh deliveries (from the dispatcher's thread); failing that, the sweep queues them."""
        loop = self._loop
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._enqueue([Due(i, 0) for i in delivery_ids]), loop)
        try:
            future.result(timeout=10)
        except Exception as error:
            log.warning("could not queue %s webhook deliveries (the sweep will): %s", len(delivery_ids), error)

    async def _enqueue(self, due: list[Due]) -> None:
        for item in due:
            await self._redis.enqueue_job(JOB, item.id, _job_id=job_id(self.queue, item), _queue_name=self.queue)

    async def _deliver(self, ctx: dict[str, Any], delivery_id: str) -> None:
        await asyncio.to_thread(self.deliverer.deliver, delivery_id)

    async def _started(self, ctx: dict[str, Any]) -> None:
        self._redis = ctx["redis"]
        self._loop = asyncio.get_running_loop()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def _stopping(self, ctx: dict[str, Any]) -> None:
        self._loop = None
        if self._sweeper is not None:
            self._sweeper.cancel()

    async def _sweep_forever(self) -> None:
        """At once, then every `interval` s: what came due while no worker ran (or before this one could take
        the dispatcher's deliveries) is not left waiting a whole interval."""
        while True:
            try:
                await self._enqueue(await asyncio.to_thread(self.deliverer.due))
            except Exception:
                log.exception("webhook sweep failed; retrying next round")
            await asyncio.sleep(self.interval)
