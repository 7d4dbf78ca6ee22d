"""Webhook delivery: one attempt at one delivery, recorded, and the sweep that finds every delivery due.

The same code runs in `keyledger serve` (an in-process queue, `DeliveryPool`) and in arq jobs on Redis
(workers/webhook_jobs.py). The database is the truth: an attempt leases its delivery, so two workers never send it
at once, and writes its outcome and next retry time before the lease ends; a lost job's delivery is due again once
its lease lapses, and the sweep queues it (decision 0055). Commits skip the WAL flush (`durable=False`): a crash
can take back only a lease or an outcome, so the delivery is sent again (at least once). Retries back off for about
a day (BACKOFF); an endpoint failing `disable_after` times in a row is disabled and its owner notified.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from commands.ledger import Ledger
from domain.actor import acting, system
from domain.instants import utc_text
from keys.webhook_signature import webhook_headers
from projections.db import ReadStore

log = logging.getLogger(__name__)

BACKOFF = (30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 28800, 28800)
"""Seconds before each retry (±20 % jitter): 12 retries over about 24 hours; the 13th failure is final."""
MAX_ATTEMPTS = len(BACKOFF) + 1
JITTER = 0.2
DELIVERY = system("webhook-delivery")
"""The actor that disables an endpoint after its failures."""


class PostResult(Protocol):
    status_code: int | None
    response_time_ms: int
    error: str | None
    excerpt: str


class Poster(Protocol):
    """The webhook HTTP client (adapters/webhook_http.py)."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult: ...


class Due(NamedTuple):
    """A delivery due, and how many attempts it has had (a queue job's id: one job per attempt)."""

    id: str
    attempts: int


def backoff(failures: int, rand: Callable[[float, float], float] = random.uniform) -> timedelta:
    """How long to wait after the `failures`-th failed attempt."""
    base = BACKOFF[min(failures, len(BACKOFF)) - 1]
    return timedelta(seconds=base * rand(1 - JITTER, 1 + JITTER))


class Deliverer:
    """Makes attempts and records them. `lease` bounds how long an attempt may hold its delivery."""

    def __init__(self, store: ReadStore, ledger: Ledger, poster: Poster, clock: Callable[[], datetime],
                 disable_after: int, lease: timedelta) -> None:
        self.store = store
        self.ledger = ledger
        self.poster = poster
        self.clock = clock
        self.disable_after = disable_after
        self.lease = lease

    def deliver(self, delivery_id: str) -> Due | None:
        """One attempt, if the delivery is due and no one else holds it; the retry due after a failure, if any."""
        now = self.clock()
        claimed = self._claim(delivery_id, now)
        if claimed is None:
            return None
        if not (claimed["is_active"] and not claimed["is_deleted"]):
            self._settle(delivery_id, "cancelled", claimed["attempts"], None)
            return None
        secret = self.ledger.reveal_webhook_secret(claimed["sealed_secret"])
        body = claimed["body"].encode()
        headers = webhook_headers(secret, body, claimed["event_type"], delivery_id, int(now.timestamp()))
        result = self.poster.post(claimed["url"], body, headers)
        return self._record(delivery_id, claimed, result, now)

    def _claim(self, delivery_id: str, now: datetime) -> dict[str, Any] | None:
        with self.store.transaction(durable=False) as cursor:
            cursor.execute(
                "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ? AND state = 'pending'"
                " AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
                " RETURNING webhook_id, body, event_type, attempts",
                (utc_text(now + self.lease), delivery_id, utc_text(now), utc_text(now)))
            delivery = cursor.fetchone()
            if delivery is None:
                return None
            cursor.execute("SELECT url, sealed_secret, is_active, is_deleted FROM webhook_routes WHERE id = ?",
                           (delivery["webhook_id"],))
            route = cursor.fetchone()
        return {**dict(delivery), **dict(route)}

    def _record(self, delivery_id: str, claimed: dict[str, Any], result: PostResult, now: datetime) -> Due | None:
        """The attempt (made at `now`), the delivery's new state, and the endpoint's run of failures, in one
        transaction; the next retry is timed from the attempt's start."""
        attempt = claimed["attempts"] + 1
        succeeded = result.error is None
        retry_at = None if succeeded or attempt >= MAX_ATTEMPTS else now + backoff(attempt)
        with self.store.transaction(durable=False) as cursor:
            cursor.execute("INSERT INTO webhook_attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (delivery_id, attempt) DO NOTHING",
                           (delivery_id, attempt, utc_text(now), result.status_code, result.response_time_ms,
                            result.error, result.excerpt, retry_at and utc_text(retry_at)))
            state = "delivered" if succeeded else "pending" if retry_at else "failed"
            self._settle_in(cursor, delivery_id, state, attempt, retry_at)
            failures = self._count_failure(cursor, claimed["webhook_id"], succeeded)
        if failures >= self.disable_after:
            log.warning("webhook %s: %s attempts failed in a row; disabling it", claimed["webhook_id"], failures)
            with acting(DELIVERY):  # the system disables it, whichever request made the attempt
                self.ledger.disable_webhook(UUID(claimed["webhook_id"]), failures, now)
        return Due(delivery_id, attempt) if retry_at else None

    def _count_failure(self, cursor: Any, webhook_id: str, succeeded: bool) -> int:
        """The endpoint's failures in a row after this attempt (a success ends the run)."""
        if succeeded:
            cursor.execute("DELETE FROM webhook_failures WHERE webhook_id = ?", (webhook_id,))
            return 0
        cursor.execute("INSERT INTO webhook_failures VALUES (?, 1) ON CONFLICT (webhook_id)"
                       " DO UPDATE SET consecutive = webhook_failures.consecutive + 1 RETURNING consecutive",
                       (webhook_id,))
        return int(cursor.fetchone()["consecutive"])

    def _settle(self, delivery_id: str, state: str, attempts: int, retry_at: datetime | None) -> None:
        with self.store.transaction(durable=False) as cursor:
            self._settle_in(cursor, delivery_id, state, attempts, retry_at)

    @staticmethod
    def _settle_in(cursor: Any, delivery_id: str, state: str, attempts: int, retry_at: datetime | None) -> None:
        cursor.execute("UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, lease_until = NULL"
                       " WHERE id = ?", (state, attempts, retry_at and utc_text(retry_at), delivery_id))

    def due(self, limit: int = 1000) -> list[Due]:
        """Deliveries due now and held by no one, the longest waiting first."""
        now = utc_text(self.clock())
        rows = self.store.query(
            "SELECT id, attempts FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
            " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_attempt_at LIMIT ?", (now, now, limit))
        return [Due(row["id"], row["attempts"]) for row in rows]


PRUNE_BATCH = 500
"""Finished deliveries removed per statement (their ids are parameters: well inside SQLite's limit)."""


def prune_delivery_log(store: ReadStore, before: datetime) -> int:
    """Remove finished deliveries (delivered, failed, cancelled) made before `before`, with their attempts, a
    batch per transaction; how many were removed. Pending ones stay, however old: they are still owed."""
    removed = 0
    while True:
        with store.transaction(durable=False) as cursor:
            cursor.execute("SELECT id FROM webhook_deliveries WHERE created_at < ? AND state <> 'pending'"
                           " ORDER BY created_at LIMIT ?", (utc_text(before), PRUNE_BATCH))
            ids = [row["id"] for row in cursor.fetchall()]
            if ids:
                marks = ", ".join("?" * len(ids))
                cursor.execute(f"DELETE FROM webhook_attempts WHERE delivery_id IN ({marks})", ids)
                cursor.execute(f"DELETE FROM webhook_deliveries WHERE id IN ({marks})", ids)
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            return removed


class DeliveryPool:
    """The embedded default's queue: threads running `Deliverer.deliver`, and a sweep every `interval` seconds."""

    def __init__(self, deliverer: Deliverer, threads: int, interval: float, stop: threading.Event) -> None:
        self.deliverer = deliverer
        self.interval = interval
        self._stop = stop
        self._queue: queue.Queue[str | None] = queue.Queue()  # None: a thread's cue to stop
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, name=f"webhook-delivery-{n}", daemon=True)
                         for n in range(threads)]
        self.threads.append(threading.Thread(target=self._sweep, name="webhook-sweep", daemon=True))

    def start(self) -> DeliveryPool:
        for thread in self.threads:
            thread.start()
        return self

    def enqueue(self, delivery_ids: list[str]) -> None:
        with self._lock:
            fresh = [delivery_id for delivery_id in delivery_ids if delivery_id not in self._queued]
            self._queued.update(fresh)
        for delivery_id in fresh:
            self._queue.put(delivery_id)

    def sweep(self) -> int:
        """Queue every delivery due; how many there were."""
        due = self.deliverer.due()
        self.enqueue([item.id for item in due])
        return len(due)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                delivery_id = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if delivery_id is None:
                return
            with self._lock:
                self._queued.discard(delivery_id)
            try:
                self.deliverer.deliver(delivery_id)
            except Exception:
                log.exception("webhook delivery %s failed; the sweep queues it again", delivery_id)

    def _sweep(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:
                log.exception("webhook sweep failed; retrying next round")

    def halt(self) -> None:
        """Wake every delivery thread to stop (with the stop event set), without waiting for them."""
        for _ in self.threads:
            self._queue.put(None)

    def join(self, timeout: float = 10) -> None:
        for thread in self.threads:
            thread.join(timeout=timeout)
