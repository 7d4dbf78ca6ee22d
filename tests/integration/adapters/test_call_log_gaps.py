"""PostgreSQL: a call still committing leaves a gap in the call log's positions. Its followers wait at the gap for
as long as it may still fill, however old the calls after it, and pass it once it cannot."""

import psycopg
import pytest

from adapters import call_log
from adapters.call_log import COLUMNS
from domain.instants import utc_text
from keyledger.wiring import postgres_conninfo, postgres_parts
from tests.conftest import eventually
from workers.security_feed import feed_security_events, security_events_projection

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]


def call_row(clock, hwid):
    return (utc_text(clock()), "validation", None, None, "LICENSE_NOT_FOUND", None, "192.0.2.1", hwid, "test", "{}")


def drawn(settings, clock, hwid):
    """A writer that has drawn a position and not committed yet, as an API process stalled mid-commit."""
    schema = postgres_parts(settings.database_url)["schema"]
    conn = psycopg.connect(postgres_conninfo(settings), options=f"-c search_path={schema}")
    conn.execute("SELECT pg_current_xact_id()")  # as every call-log INSERT takes its id first (XID_FIRST)
    conn.execute(f"INSERT INTO client_calls ({COLUMNS}) VALUES ({', '.join(['%s'] * 10)})", call_row(clock, hwid))
    return conn


@pytest.fixture
def committing(runtime, settings, clock):
    with drawn(settings, clock, "late-pc") as conn:
        yield conn


def listed_devices(runtime, clock):
    feed_security_events(security_events_projection(runtime.projector.projections), runtime.ledger.calls.store,
                         clock())
    return sorted(row["hwid"] for row in runtime.store.query("SELECT hwid FROM security_events"))


def test_a_call_committing_late_is_waited_for_and_listed(runtime, clock, committing):
    runtime.ledger.calls.store.append([call_row(clock, "prompt-pc")])  # drawn after it, committed first
    clock.advance(hours=1)  # both calls an hour old: the gap is no younger
    assert listed_devices(runtime, clock) == []

    committing.commit()
    assert listed_devices(runtime, clock) == ["late-pc", "prompt-pc"]


def test_a_gap_left_by_a_rolled_back_call_is_passed(runtime, clock, committing):
    runtime.ledger.calls.store.append([call_row(clock, "prompt-pc")])
    assert listed_devices(runtime, clock) == []

    committing.rollback()
    clock.advance(minutes=1)  # past the followers' own wait at a gap (GAP_WAIT)
    passed_once_nothing_older_runs(runtime, clock, ["prompt-pc"])


def test_gaps_remembered_are_bounded_and_each_still_passed(runtime, settings, clock, monkeypatch):
    monkeypatch.setattr(call_log, "REMEMBERED_GAPS", 1)
    store = runtime.ledger.calls.store
    for n in range(3):  # each rolled-back append leaves a gap, seen while its writer still runs
        with drawn(settings, clock, f"lost-{n}") as conn:
            store.append([call_row(clock, f"kept-{n}")])
            listed_devices(runtime, clock)
            conn.rollback()
    clock.advance(minutes=1)
    passed_once_nothing_older_runs(runtime, clock, ["kept-0", "kept-1", "kept-2"])
    assert len(store._gaps) == 1


def passed_once_nothing_older_runs(runtime, clock, devices):
    """A rolled-back gap is passed once every transaction of the database that was running when it was seen has
    ended: another test process's (a rebuild's, say) may take a while."""
    eventually(lambda: listed_devices(runtime, clock) == devices, lambda: listed_devices(runtime, clock), seconds=120)
