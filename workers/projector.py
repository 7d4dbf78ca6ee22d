"""Projection runner: feeds the application's notification log to the read models.

eventsourcing's own ProjectionRunner needs a subscription, which its SQLite recorder does
not offer; this runner polls `select_notifications` (and is woken at once by in-process
writes), decodes each batch once, and hands each projection the events past its position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timezone
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from projections.base import PositionBehindError, ReadModelProjection
from projections.db import unreachable
from projections.feeding import FeedingLock

log = logging.getLogger(__name__)

BATCH = 500
REBUILD_BATCH = 5000
"""Events a rebuild applies per transaction: it holds the read models alone, so larger batches cost no one a
wait, and spare it most of its commits (docs/decisions/0001-exactly-once-projections.md)."""
QUARANTINE_AFTER = 3
"""Failed attempts at one event, a second apart, before its read model passes over it (projections/base.py,
`quarantine`): one that fails every time would otherwise stop the read model for every tenant, and every vendor
write would wait for it in vain (docs/decisions/0018-projection-quarantine.md)."""


Batch = list[tuple[Any, Tracking]]


class RebuildRefusedError(RuntimeError):
    """Another process is projecting into the read models a rebuild would drop (projections/feeding.py)."""


class UnknownReadModelError(ValueError):
    """Raised when a rebuild names a read model this projector does not keep."""


class Projector:
    """Keeps a set of projections up to date with one application."""

    def __init__(self, app: Application[Any], projections: Sequence[ReadModelProjection], poll: float = 0.05,
                 feeding: FeedingLock | None = None) -> None:
        self.app = app
        self._feeding = feeding  # held shared while this projector runs; None: no other process to keep out
        self.projections = list(projections)
        self.poll = poll
        self._batch = BATCH
        self._positions_known: dict[str, int] = {}  # projection -> position, as last recorded
        self._attempts: dict[tuple[str, int], int] = {}  # (projection, notification id) -> failed attempts
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()  # rebuild holds it across drop and replay

    def catch_up(self) -> int:
        """Process everything recorded so far; returns how many notifications were read. Stops when a round moves no
        projection (another projector process holds the batch). Called where no projector runs (a command-line
        process), it holds the feeding lock meanwhile."""
        with self._lock:
            borrowed = self._feeding is not None and self._feeding.state == "none"
            if borrowed:
                self._feeding.share()  # type: ignore[union-attr]
            try:
                total = 0
                while (count := self._feed()) > 0:
                    total += count
                return total
            finally:
                if borrowed:
                    self._feeding.back_to("none")  # type: ignore[union-attr]

    def _events(self, after: int) -> Batch:
        notifications = self.app.recorder.select_notifications(start=after, limit=self._batch,
                                                               inclusive_of_start=False)
        return [(self.app.mapper.to_domain_event(n), Tracking(self.app.name, n.id)) for n in notifications]

    def _positions(self, projections: Sequence[ReadModelProjection]) -> dict[str, int]:
        """Each projection's position: remembered from its last batch, read once otherwise. Only a hint of where to
        read from: each batch reads the recorded position again, under a lock, and skips what another projector
        process applied meanwhile (projections/base.py)."""
        known = self._positions_known
        for p in projections:
            if p.name not in known:
                known[p.name] = p.view.max_tracking_id(self.app.name) or 0
        return {p.name: known[p.name] for p in projections}

    def _feed(self) -> int:
        """One batch of events to every projection behind; how many events were read (0: nothing moved)."""
        positions = self._positions(self.projections)
        batch = self._events(min(positions.values(), default=0)) if self.projections else []
        if not batch:
            return 0
        moved, failure = False, None
        for projection in self.projections:
            pending = [item for item in batch if item[1].notification_id > positions[projection.name]]
            if pending:
                try:
                    moved = self._apply(projection, pending, positions[projection.name]) or moved
                except Exception as error:  # the other read models go on; this one is retried
                    failure = failure or error
        if failure is not None:
            raise failure
        return len(batch) if moved else 0

    def _apply(self, projection: ReadModelProjection, pending: Batch, position: int) -> bool:
        """Apply one batch read after `position`; whether the projection's position moved (by this batch or by another
        process). A batch that fails is applied again one event at a time, so the events before the failing one
        land; that one raises until its QUARANTINE_AFTER-th attempt, and is then passed over (decision 0018)."""
        try:
            reached = projection.process_batch(pending, after=position)
        except PositionBehindError:
            return self._forget(projection)
        except Exception as error:
            if unreachable(error):  # the database, not the event: it is tried again, and never passed over
                raise
            if len(pending) > 1:
                return self._apply_singly(projection, pending, position)
            return self._failed(projection, pending[0], position, error)
        self._positions_known[projection.name] = reached
        return reached != position

    def _forget(self, projection: ReadModelProjection) -> bool:
        """The recorded position went back (the model was dropped for a rebuild): read it again next round."""
        log.warning("projection %s: its position went back; reading it again", projection.name)
        self._positions_known.pop(projection.name, None)
        return True

    def _apply_singly(self, projection: ReadModelProjection, pending: Batch, position: int) -> bool:
        for item in pending:
            if item[1].notification_id <= position:  # another process applied it meanwhile
                continue
            if not self._apply(projection, [item], position):
                return False
            position = self._positions_known.get(projection.name, position)
        return True

    def _failed(self, projection: ReadModelProjection, item: tuple[Any, Tracking], position: int,
                error: Exception) -> bool:
        domain_event, tracking = item
        key = (projection.name, tracking.notification_id)
        attempts = self._attempts[key] = self._attempts.get(key, 0) + 1
        if attempts < QUARANTINE_AFTER:
            raise error
        del self._attempts[key]
        topic = get_topic(type(domain_event))
        log.error("projection %s: passing over event %s (%s) after %s failed attempts; it is kept in"
                  " projection_quarantine until a rebuild applies it", projection.name, tracking.notification_id,
                  topic, attempts, exc_info=error)
        try:
            reached = projection.view.quarantine(tracking, position, topic, f"{type(error).__name__}: {error}",
                                                 datetime.now(timezone.utc))
        except PositionBehindError:
            return self._forget(projection)
        self._positions_known[projection.name] = reached
        return True

    def quarantined(self) -> dict[str, list[dict[str, Any]]]:
        """Each read model's passed-over events (those with none are left out)."""
        return {model["name"]: model["quarantined"] for model in self.status() if model["quarantined"]}

    def status(self) -> list[dict[str, Any]]:
        """Each read model's position in the log and the events it passed over, as recorded (any process)."""
        return [{"name": p.name, "position": p.view.max_tracking_id(self.app.name) or 0,
                 "quarantined": p.view.quarantined(self.app.name)} for p in self.projections]

    def wake(self) -> None:
        self._wake.set()

    def wait(self, position: int, timeout: float, models: Collection[str] | None = None) -> None:
        """Block until the read models named in `models` (every one without) have reached `position`
        (read-your-writes); TimeoutError once `timeout` has passed, however many there are."""
        unknown = set(models or ()) - {projection.name for projection in self.projections}
        if unknown:
            raise ValueError(f"no such read models: {sorted(unknown)}")
        self.wake()
        deadline = time.monotonic() + timeout
        for projection in self.projections:
            if models is None or projection.name in models:
                projection.view.wait(self.app.name, position, timeout=max(0.0, deadline - time.monotonic()))

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="projector", daemon=True)
        self._thread.start()

    def run_forever(self) -> None:
        if self._feeding is not None:
            self._feeding.share()  # waits while another process rebuilds
        while not self._stop.is_set():
            try:
                if self._feeding is not None:
                    self._feeding.ensure()
                self.catch_up()
            except Exception as error:
                log.exception("projection batch failed; retrying")
                self._stop.wait(0.1 if unreachable(error) else 1.0)  # a dropped connection is soon replaced
            self._wake.wait(self.poll)
            self._wake.clear()

    def halt(self) -> None:
        """Ask the thread to stop after its batch, without waiting."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float = 10) -> None:
        """Stop and let go of the feeding lock; a batch still running after `timeout` s dies with the process
        (it commits with its tracking row, so it lands whole or not at all)."""
        self.halt()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._feeding is not None:
            self._feeding.close()

    def rebuild(self, names: Sequence[str] | None = None) -> int:
        """Drop the named read models (all by default) and replay the whole store into them. Refused
        (RebuildRefusedError) while a projector in another process runs: it would write into the new tables past
        its old position, and the replay would then skip everything before (decision 0019)."""
        unknown = sorted(set(names or ()) - {projection.name for projection in self.projections})
        if unknown:
            raise UnknownReadModelError(f"No read model is named {', '.join(unknown)}; the read models are"
                                        f" {', '.join(projection.name for projection in self.projections)}")
        with self._lock:
            held = self._feeding.state if self._feeding is not None else "none"
            if self._feeding is not None and not self._feeding.try_exclusive():
                raise RebuildRefusedError(
                    "Another process is projecting into these read models (keyledger project, or keyledger serve"
                    " with projections on): stop it, rebuild, then start it again")
            try:
                self._positions_known.clear()
                for projection in self.projections:
                    if names is None or projection.name in names:
                        projection.drop_tables()
                        projection.create_tables()
                self._batch = REBUILD_BATCH
                return self.catch_up()
            finally:
                self._batch = BATCH
                if self._feeding is not None:
                    self._feeding.back_to(held)
