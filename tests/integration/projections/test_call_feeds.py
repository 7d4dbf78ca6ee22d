"""The call log's two feeds run as one (workers/call_feeds.py): each read model gets what its own feed would give
it, each call once, whichever of them stands behind and however many processes feed (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from projections.security_events import CALL_LOG
from projections.timeseries import FROM_CALLS
from tests.integration.conftest import race, settle
from tests.integration.projections.test_timeseries import history  # noqa: F401  (a fixture)
from workers.call_feeds import feed_calls, feed_round
from workers.security_feed import feed_security_events, security_events_projection
from workers.timeseries_feed import feed_timeseries, timeseries_projection

FEEDS = {"security_events": ("security_events",),
         "timeseries": ("timeseries", "timeseries_errors", "timeseries_devices")}
"""Each feed's read model, and its tables that hold what it copied from the call log."""


def feed_both(runtime):
    projections = runtime.projector.projections
    return feed_calls(security_events_projection(projections), timeseries_projection(projections),
                      runtime.ledger.calls.store, runtime.clock())


def feed_each(runtime):
    projections, calls, now = runtime.projector.projections, runtime.ledger.calls.store, runtime.clock()
    feed_security_events(security_events_projection(projections), calls, now)
    feed_timeseries(timeseries_projection(projections), calls, now)


def rows(runtime):
    """Every row of both read models' tables, in a total order."""
    return {table: sorted(tuple(sorted(row.items())) for row in runtime.store.query(f"SELECT * FROM {table}"))
            for tables in FEEDS.values() for table in tables}


def positions(runtime):
    """Each read model's call-log position (0: none kept)."""
    found = {row["projection"]: row["n"] for row in runtime.store.query(
        "SELECT projection, notification_id AS n FROM projection_tracking WHERE application_name = ?", (CALL_LOG,))}
    return {name: found.get(name, 0) for name in FEEDS}


def forget(runtime, *names):
    """As if these read models had never seen a call: their call-log positions gone, their counts empty."""
    with runtime.store.transaction() as cursor:
        for name in names:
            if name == "security_events":
                cursor.execute("DELETE FROM security_events WHERE source = 'call'")
            else:  # the projector's counts share the rows
                cursor.execute("UPDATE timeseries SET " + ", ".join(f"{count} = 0" for count in FROM_CALLS))
                cursor.execute("DELETE FROM timeseries_errors")
                cursor.execute("DELETE FROM timeseries_devices")
            cursor.execute("DELETE FROM projection_tracking WHERE projection = ? AND application_name = ?",
                           (name, CALL_LOG))


def test_one_read_gives_each_read_model_what_its_own_feed_gives(runtime, history):  # noqa: F811
    feed_each(runtime)
    before = rows(runtime)
    assert before["security_events"] and before["timeseries_errors"]  # not vacuous
    forget(runtime, *FEEDS)

    read = feed_both(runtime)

    assert rows(runtime) == before
    assert read == len(runtime.store.query("SELECT id FROM security_events WHERE source = 'call' AND id NOT LIKE"
                                           " 'call:%:%'"))  # each call read once, though both took it


@pytest.mark.parametrize("behind", FEEDS)
def test_a_feed_behind_catches_up_and_then_both_share_a_position(runtime, history, behind):  # noqa: F811
    feed_each(runtime)
    before = rows(runtime)
    forget(runtime, behind)

    feed_both(runtime)

    assert rows(runtime) == before  # nothing counted twice for the one ahead, nothing missed for the one behind
    head = runtime.ledger.calls.store.head()
    assert positions(runtime) == {name: head for name in FEEDS}


def test_feeds_racing_copy_and_count_each_call_once(runtime, history):  # noqa: F811
    feed_each(runtime)
    before = rows(runtime)
    forget(runtime, *FEEDS)
    settle(runtime)

    race(lambda: feed_both(runtime), lambda: feed_both(runtime), lambda: feed_each(runtime))

    assert rows(runtime) == before


def test_a_failing_feed_does_not_hold_the_other_back(runtime, history):  # noqa: F811
    feed_each(runtime)
    before = rows(runtime)
    forget(runtime, *FEEDS)
    projections = runtime.projector.projections

    def cannot_raise(alerts):
        raise RuntimeError("the event store is away")

    feed_round(security_events_projection(projections), timeseries_projection(projections),
               runtime.ledger.calls.store, runtime.clock(), cannot_raise)

    after = rows(runtime)
    assert {table: after[table] == before[table] for table in before} == {
        "security_events": False, "timeseries": True, "timeseries_errors": True, "timeseries_devices": True}
    assert positions(runtime) == {"security_events": 0, "timeseries": runtime.ledger.calls.store.head()}
