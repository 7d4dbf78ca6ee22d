"""Projection runner: feeds the application's notification log, and the client-call log, to the read models.

eventsourcing's own ProjectionRunner needs a subscription, which its SQLite recorder does
not offer; this runner polls `select_notifications` (and is woken at once by in-process
writes), decodes each batch once, and hands each projection the events past its position.
The call log is a second source, tracked under its own name, for the models that read it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Tracking

from commands.call_log import CALLS_LOG, CallStore
from projections.base import ReadModelProjection

log = logging.getLogger(__name__)

BATCH = 500


Batch = list[tuple[Any, Tracking]]


class Projector:
    """Keeps a set of projections up to date with one application and, for those that read it, its call log."""

    def __init__(self, app: Application[Any], projections: Sequence[ReadModelProjection],
                 calls: CallStore | None = None, poll: float = 0.05) -> None:
        self.app = app
        self.projections = list(projections)
        self.calls = calls
        self.call_readers = [p for p in self.projections if p.reads_calls] if calls is not None else []
        self.poll = poll
        self._positions_known: dict[tuple[str, str], int] = {}  # (source, projection) -> position, as last recorded
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()  # rebuild holds it across drop and replay

    def catch_up(self) -> int:
        """Process everything recorded so far; returns how many notifications were read.

        Stops when a round moves no projection (another projector process holds the batch).
        """
        with self._lock:
            total = 0
            while (count := self._feed(self.app.name, self.projections, self._events)) > 0:
                total += count
            while (count := self._feed(CALLS_LOG, self.call_readers, self._call_records)) > 0:
                total += count
            return total

    def _events(self, after: int) -> Batch:
        notifications = self.app.recorder.select_notifications(start=after, limit=BATCH, inclusive_of_start=False)
        return [(self.app.mapper.to_domain_event(n), Tracking(self.app.name, n.id)) for n in notifications]

    def _call_records(self, after: int) -> Batch:
        return [(record, Tracking(CALLS_LOG, position))
                for position, record in self.calls.select(after, BATCH)]  # type: ignore[union-attr]

    def _positions(self, source: str, projections: Sequence[ReadModelProjection]) -> dict[str, int]:
        """Each projection's position in `source`: remembered from its last batch, read once otherwise.

        Another projector process moving a projection on is caught by the tracking record itself:
        the stale batch is refused whole (IntegrityError) and the position read again.
        """
        known = self._positions_known
        for p in projections:
            if (source, p.name) not in known:
                known[(source, p.name)] = p.view.max_tracking_id(source) or 0
        return {p.name: known[(source, p.name)] for p in projections}

    def _feed(self, source: str, projections: Sequence[ReadModelProjection], read: Callable[[int], Batch]) -> int:
        """One batch of `source` to every projection behind on it; how many items were read (0: nothing moved)."""
        positions = self._positions(source, projections)
        batch = read(min(positions.values(), default=0)) if projections else []
        if not batch:
            return 0
        moved = False
        for projection in projections:
            pending = [item for item in batch if item[1].notification_id > positions[projection.name]]
            if pending:
                moved = self._apply(source, projection, pending, positions[projection.name]) or moved
        return len(batch) if moved else 0

    def _apply(self, source: str, projection: ReadModelProjection, pending: list[tuple[Any, Tracking]],
               position: int) -> bool:
        """Apply one batch; whether the projection's position moved (by this batch or by another process)."""
        try:
            projection.process_batch(pending)
        except IntegrityError:
            # Another projector process recorded this batch first: ours rolled back whole.
            log.info("projection %s: batch already recorded elsewhere", projection.name)
            del self._positions_known[(source, projection.name)]
            return self._positions(source, [projection])[projection.name] != position
        self._positions_known[(source, projection.name)] = pending[-1][1].notification_id
        return True

    def wake(self) -> None:
        self._wake.set()

    def wait(self, position: int, timeout: float, calls_position: int | None = None) -> None:
        """Block until every read model has reached `position` (read-your-writes), and the call log's readers
        `calls_position` when given."""
        self.wake()
        for projection in self.projections:
            projection.view.wait(self.app.name, position, timeout=timeout)
        if calls_position:
            for projection in self.call_readers:
                projection.view.wait(CALLS_LOG, calls_position, timeout=timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="projector", daemon=True)
        self._thread.start()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up()
            except Exception:
                log.exception("projection batch failed; retrying")
                self._stop.wait(1.0)
            self._wake.wait(self.poll)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def rebuild(self, names: Sequence[str] | None = None) -> int:
        """Drop the named read models (all by default) and replay the whole store into them."""
        with self._lock:
            self._positions_known.clear()
            for projection in self.projections:
                if names is None or projection.name in names:
                    projection.drop_tables()
                    projection.create_tables()
            return self.catch_up()
