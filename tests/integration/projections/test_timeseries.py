"""The time series read model: built over the history already stored, equal to the one built as it happened,
and each client call counted once however many feeds run (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.account import Actor
from domain.client_call import ClientRequest
from domain.license import LicenseStatus, LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from domain.refusals import ClientRefusedError
from projections.timeseries import product_timeseries
from tests.integration.conftest import race, settle
from workers.expiry import sweep_sessions
from workers.projector import Projector
from workers.timeseries_feed import feed_timeseries, timeseries_projection

TABLES = ("timeseries", "timeseries_errors", "timeseries_devices", "timeseries_licenses", "timeseries_sessions")


def feed(runtime):
    return feed_timeseries(timeseries_projection(runtime.projector.projections), runtime.ledger.calls.store,
                           runtime.clock())


def rows(runtime):
    """Every row of every table of the read model, in a total order."""
    return {table: sorted(tuple(sorted(row.items())) for row in runtime.store.query(f"SELECT * FROM {table}"))
            for table in TABLES}


@pytest.fixture
def history(runtime, ledger, clock):
    """Two days of one product: calls from three devices, refusals, a suspension, a lapse, sessions swept."""
    vendor = Actor(ledger.register_account("v@example.com", "secret123", "V", clock()).id)
    product = ledger.create_product(vendor, "App", "", SigningAlgorithm.ED25519, clock()).id
    terms = LicenseTerms(license_type=LicenseType.SUBSCRIPTION, max_uses=2, hwid_locked=False,
                         expires_at=clock() + timedelta(hours=30))
    ids = ledger.issue_licenses(vendor, product, 2, terms, clock())[0]
    keys = [ledger.get_license(vendor, i).key for i in ids]

    def call(command, key, hwid):
        try:
            command(ClientRequest(key, product, hwid, "203.0.113.1", "ua", clock()))
        except ClientRefusedError:
            pass  # a refusal is a call counted all the same

    for hwid in ("pc-1", "pc-2", "pc-3"):  # the third activation is refused (max_uses 2), its validation not
        call(ledger.activate_license, keys[0], hwid)
        call(ledger.validate_license, keys[0], hwid)
    clock.advance(hours=3)
    ledger.update_license(vendor, ids[1], clock(), status=LicenseStatus.SUSPENDED)
    call(ledger.validate_license, keys[1], "pc-4")
    call(ledger.deactivate_license, keys[0], "pc-1")
    settle(runtime)
    sweep_sessions(ledger, runtime.store, clock.advance(hours=2))
    ledger.expire_license(ids[0], clock.advance(days=1, hours=2))  # 19:00 the next day
    call(ledger.validate_license, keys[0], "pc-2")  # refused: lapsed at 18:00
    settle(runtime)
    feed(runtime)
    return str(product)


def test_a_rebuild_counts_the_whole_history_again_row_for_row(runtime, clock, history):
    before = rows(runtime)
    answer = product_timeseries(runtime.store, history, clock() - timedelta(days=2), clock(), "hour")["buckets"]

    runtime.projector.rebuild(["timeseries"])  # what `keyledger rebuild timeseries` runs
    settle(runtime)
    feed(runtime)

    assert rows(runtime) == before
    assert product_timeseries(runtime.store, history, clock() - timedelta(days=2), clock(), "hour")["buckets"] == answer
    # Check the comparison was not vacuous: every kind of count is there.
    days = product_timeseries(runtime.store, history, clock() - timedelta(days=1), clock(), "day")["buckets"]
    totals = {name: sum(day[name] for day in days) for name in days[0] if name not in ("start", "validation_errors")}
    assert totals == {"validations_succeeded": 3, "validations_failed": 2, "activations": 2, "deactivations": 1,
                      "devices": 3, "licenses_issued": 2, "licenses_expired": 1, "licenses_suspended": 1,
                      "peak_sessions": 2}
    assert [day["validation_errors"] for day in days] == [{"LICENSE_SUSPENDED": 1}, {"LICENSE_EXPIRED": 1}]


def test_devices_of_buckets_left_behind_are_dropped_and_their_counts_kept(runtime, clock, history):
    hours = product_timeseries(runtime.store, history, clock() - timedelta(days=2), clock(), "hour")["buckets"]
    kept = runtime.store.query("SELECT granularity, bucket FROM timeseries_devices")
    last_call = runtime.store.query("SELECT MAX(bucket) AS b FROM timeseries_devices WHERE granularity = 'hour'")

    # The last call (pc-2, refused) counted no device; the first day's calls did, 25 hours before it.
    assert sum(hour["devices"] for hour in hours) == 4  # pc-1, pc-2, pc-3 at the start; pc-1's deactivation
    assert all(row["granularity"] == "day" for row in kept) and last_call[0]["b"] is None
    assert sorted({row["bucket"][:10] for row in kept}) == [(clock() - timedelta(days=1)).date().isoformat()]


def test_a_new_read_model_is_built_over_the_history_already_stored(runtime, history):
    before = rows(runtime)
    projection = timeseries_projection(runtime.projector.projections)
    projection.drop_tables()  # as if this read model had never existed: no tables, no positions
    projection.create_tables()

    Projector(runtime.ledger, [projection]).catch_up()  # the first projector started after the upgrade
    feed(runtime)

    assert rows(runtime) == before


def test_feeds_racing_count_each_call_once(runtime, history):
    before = rows(runtime)
    projection = timeseries_projection(runtime.projector.projections)
    with runtime.store.transaction() as cursor:  # the call log's position back to the start, its counts to zero
        for table in ("timeseries", "timeseries_errors", "timeseries_devices"):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM projection_tracking WHERE projection = ? AND application_name = ?",
                       (projection.name, "client_calls"))
    runtime.projector.rebuild(["timeseries"])

    race(lambda: feed(runtime), lambda: feed(runtime), lambda: feed(runtime))

    assert rows(runtime) == before
