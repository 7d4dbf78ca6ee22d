"""Projection runner: feeds the application's notification log to every read model.

eventsourcing's own ProjectionRunner needs a subscription, which its SQLite recorder does
not offer; this runner polls `select_notifications` (and is woken at once by in-process
writes), decodes each batch once, and hands each projection the events past its position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Tracking

from projections.base import ReadModelProjection

log = logging.getLogger(__name__)

BATCH = 500


class Projector:
    """Keeps a set of projections up to date with one application."""

    def __init__(self, app: Application[Any], projections: Sequence[ReadModelProjection], poll: float = 0.05) -> None:
        self.app = app
        self.projections = list(projections)
        self.poll = poll
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
            while (count := self._process_next_batch()) > 0:
                total += count
            return total

    def _positions(self) -> dict[str, int]:
        return {p.name: p.view.max_tracking_id(self.app.name) or 0 for p in self.projections}

    def _process_next_batch(self) -> int:
        name = self.app.name
        positions = self._positions()
        start = min(positions.values(), default=0)
        notifications = self.app.recorder.select_notifications(start=start, limit=BATCH, inclusive_of_start=False)
        if not notifications:
            return 0
        batch = [(self.app.mapper.to_domain_event(n), Tracking(name, n.id)) for n in notifications]
        for projection in self.projections:
            pending = [item for item in batch if item[1].notification_id > positions[projection.name]]
            if pending:
                self._apply(projection, pending)
        return len(notifications) if self._positions() != positions else 0

    @staticmethod
    def _apply(projection: ReadModelProjection, pending: list[tuple[Any, Tracking]]) -> None:
        try:
            projection.process_batch(pending)
        except IntegrityError:
            # Another projector process recorded this batch first: ours rolled back whole.
            log.info("projection %s: batch already recorded elsewhere", projection.name)

    def wake(self) -> None:
        self._wake.set()

    def wait(self, position: int, timeout: float) -> None:
        """Block until every read model has reached `position` (read-your-writes)."""
        self.wake()
        for projection in self.projections:
            projection.view.wait(self.app.name, position, timeout=timeout)

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
            for projection in self.projections:
                if names is None or projection.name in names:
                    projection.drop_tables()
                    projection.create_tables()
            return self.catch_up()
