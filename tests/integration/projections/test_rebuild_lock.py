"""A rebuild and the projectors of other processes never write the read models at once (projections/feeding.py).

A projector that kept running beside a rebuild would write past its old position into the new
empty tables, and the replay would then start from there and skip everything before it."""

from __future__ import annotations

import time

import pytest

from keyledger.wiring import build_runtime
from tests.integration.conftest import issue, settle
from workers.projector import RebuildRefusedError


def licenses_listed(runtime) -> int:
    return len(runtime.store.query("SELECT id FROM licenses"))


@pytest.fixture
def other_process(settings, clock):
    """A second process on the same database, projecting nothing itself (as `keyledger rebuild` runs)."""
    runtime = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    yield runtime
    runtime.close()


def test_a_rebuild_is_refused_while_another_process_projects_and_changes_nothing(
        runtime, ledger, vendor, product_id, clock, other_process):
    for _ in range(3):
        issue(ledger, vendor, product_id, clock())
    settle(runtime)  # this runtime's projector runs, and holds its share of the lock
    before = licenses_listed(runtime)

    with pytest.raises(RebuildRefusedError, match="stop it, rebuild"):
        other_process.projector.rebuild()

    issue(ledger, vendor, product_id, clock())
    settle(runtime)
    assert before == 3 and licenses_listed(runtime) == 4  # the live read models went on, whole


def test_once_the_projector_stops_the_rebuild_runs_and_a_projector_starting_meanwhile_waits(
        runtime, ledger, vendor, product_id, clock, other_process, settings):
    for _ in range(3):
        issue(ledger, vendor, product_id, clock())
    settle(runtime)
    runtime.projector.stop()

    assert other_process.projector.rebuild() > 0
    assert licenses_listed(other_process) == 3

    # A projector starting while a rebuild holds the lock waits for it instead of writing beside it.
    assert other_process.projector._feeding.try_exclusive()
    late = build_runtime(settings, clock=clock, start_workers=False)
    try:
        issue(ledger, vendor, product_id, clock())
        time.sleep(0.5)
        assert licenses_listed(late) == 3  # nothing projected while the rebuild held it
        other_process.projector._feeding.back_to("none")
        late.projector.wait(ledger.position(), timeout=10)
        assert licenses_listed(late) == 4
    finally:
        late.close()


def test_a_rebuild_in_the_process_whose_projector_runs_is_not_refused(runtime, ledger, vendor, product_id, clock):
    issue(ledger, vendor, product_id, clock())
    settle(runtime)
    assert runtime.projector.rebuild() > 0
    issue(ledger, vendor, product_id, clock())
    settle(runtime)  # and the projector goes on after it
    assert licenses_listed(runtime) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_projector_whose_lock_session_was_dropped_takes_the_lock_again(runtime, ledger, vendor, product_id, clock,
                                                                         other_process):
    import psycopg

    from tests.conftest import POSTGRES_URL

    settle(runtime)
    lock_session = runtime.projector._feeding._conn.info.backend_pid
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:  # a restart, an operator's pg_terminate_backend
        admin.execute("SELECT pg_terminate_backend(%s)", (lock_session,))
    issue(ledger, vendor, product_id, clock())
    settle(runtime)  # the projector has gone round again since
    time.sleep(0.3)

    with pytest.raises(RebuildRefusedError):
        other_process.projector.rebuild()
