"""Several projectors feeding one set of read models apply each event exactly once (SQLite and PostgreSQL).

Each projector here has its own read-store connections, its own remembered positions and its own
thread, as a `keyledger project` process would; tests/faults runs the same with real processes.
"""

from __future__ import annotations


import pytest

from keyledger.wiring import build_read_store, build_runtime, feeding_lock
from projections import licenses
from projections.base import ProjectionView, ReadModelProjection
from projections.registry import build_projections
from tests.conftest import eventually
from tests.integration.conftest import snapshot
from tests.traffic import license_rows_are_sane, run_traffic
from workers.projector import Projector


class ApplicationCount(ReadModelProjection):
    """Counts how often each event is applied: exactly once, or the tracking failed."""

    name = "test_application_count"
    tables = ("test_application_count",)
    ddl = ("CREATE TABLE IF NOT EXISTS test_application_count (position BIGINT PRIMARY KEY, applied INTEGER NOT NULL)",)

    def apply(self, cursor, event):
        cursor.execute("INSERT INTO test_application_count VALUES (?, 1) ON CONFLICT (position)"
                       " DO UPDATE SET applied = test_application_count.applied + 1", (self.position,))


def projections_of(settings):
    store = build_read_store(settings)
    counting = ApplicationCount(view=ProjectionView(store, ApplicationCount.name))
    counting.create_tables()
    return [*build_projections(store), counting]


def wait_until_caught_up(runtime, projectors, timeout=30.0):
    head = runtime.ledger.position()
    eventually(lambda: all(model["position"] >= head for projector in projectors for model in projector.status()),
               projectors[0].status, timeout)


@pytest.mark.parametrize("count", [2, 3])
def test_several_projectors_under_traffic_build_what_a_rebuild_builds(settings, clock, count):
    runtime = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    projectors = [Projector(runtime.ledger, projections_of(settings), feeding=feeding_lock(settings), poll=0.01)
                  for _ in range(count)]
    try:
        for projector in projectors:
            projector.start()
        outcome = run_traffic(runtime.ledger, clock, seconds=4, threads=4, at_least=250)
        wait_until_caught_up(runtime, projectors)
    finally:
        for projector in projectors:
            projector.stop()

    # Check the traffic did what it was meant to, then that every event was applied once, and only once.
    assert not outcome.errors, outcome.errors[:5]
    assert outcome.commands > 200 and len(outcome.issued) > 10
    counts = runtime.store.query("SELECT position, applied FROM test_application_count")
    notifications = runtime.ledger.recorder.select_notifications(start=1, limit=1_000_000)
    assert {row["position"] for row in counts} == {notification.id for notification in notifications}
    assert [row for row in counts if row["applied"] != 1] == []
    incremental = snapshot(runtime, [], sorted(outcome.issued))
    assert license_rows_are_sane(licenses.list_licenses(runtime.store, None, clock(), limit=100_000)[0]) == []
    assert {row["id"] for row in incremental["licenses"][None][0]} == {str(i) for i in outcome.issued - outcome.deleted}

    runtime.projector.rebuild()
    assert snapshot(runtime, [], sorted(outcome.issued)) == incremental
    runtime.close()
