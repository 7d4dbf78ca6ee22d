"""A product's time series: counts per hour and per day, empty buckets included, and the bad input refused."""

from uuid import uuid4

import pytest

from tests.conftest import auth, create_license, register, settle
from workers.expiry import sweep_sessions
from workers.timeseries_feed import feed_timeseries, timeseries_projection


def call(client, action, license, hwid, **extra):
    body = {"license_key": license["license_key"], "hwid": hwid, "product_id": license["product_id"], **extra}
    return client.post(f"/api/client/{action}", json=body)


def fed(runtime):
    """The read model once it has seen every event and every client call so far."""
    settle(runtime)
    feed_timeseries(timeseries_projection(runtime.projector.projections), runtime.ledger.calls.store, runtime.clock())


def series(client, token, product_id, query):
    response = client.get(f"/api/stats/products/{product_id}/timeseries?{query}", headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def history(client, vendor_token, product, runtime, clock):
    """From 12:00 on 15 January: two activations, validations (one refused), a suspension, a deactivation."""
    first = create_license(client, vendor_token, product["id"], max_uses=2, hwid_locked=False)
    second = create_license(client, vendor_token, product["id"])
    call(client, "activate", first, "pc-1")
    call(client, "validate", first, "pc-1")
    call(client, "validate", first, "pc-1")
    call(client, "validate", {**first, "license_key": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, "guesser")
    clock.advance(hours=1, minutes=30)  # 13:30
    call(client, "activate", first, "pc-2")
    client.put(f"/api/licenses/{second['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    call(client, "validate", second, "pc-3")  # refused: suspended
    call(client, "deactivate", first, "pc-1")
    clock.advance(hours=20)  # 09:30 the next day
    call(client, "validate", first, "pc-2")
    fed(runtime)
    return {"first": first, "second": second}


COUNTED = ("validations_succeeded", "validations_failed", "activations", "deactivations", "devices",
           "licenses_issued", "licenses_suspended", "peak_sessions")


def counts(bucket):
    return tuple(bucket[name] for name in COUNTED)


def test_hours_are_counted_in_order_with_empty_ones_as_zeros(client, vendor_token, product, history):
    data = series(client, vendor_token, product["id"], "interval=hour&from=2026-01-15T11:20Z&to=2026-01-15T15:10Z")

    # Check the buckets run from the hour holding `from` to the one holding `to`, each with its start.
    assert (data["interval"], data["from"], data["to"]) == ("hour", "2026-01-15T11:00:00.000000Z",
                                                           "2026-01-15T16:00:00.000000Z")
    assert [bucket["start"][11:13] for bucket in data["buckets"]] == ["11", "12", "13", "14", "15"]
    assert [counts(bucket) for bucket in data["buckets"]] == [
        (0, 0, 0, 0, 0, 0, 0, 0),
        (2, 1, 1, 0, 1, 2, 0, 1),
        (0, 1, 1, 1, 2, 0, 1, 2),
        (0, 0, 0, 0, 0, 0, 0, 2),  # nothing happened, but no end of the two sessions is recorded yet
        (0, 0, 0, 0, 0, 0, 0, 2),
    ]
    assert [bucket["validation_errors"] for bucket in data["buckets"][1:3]] == [
        {"LICENSE_NOT_FOUND": 1}, {"LICENSE_SUSPENDED": 1}]


def test_days_count_each_device_once_and_the_peak_across_days(client, vendor_token, product, history, runtime, clock):
    sweep_sessions(runtime.ledger, runtime.store, clock.advance(hours=2))  # 11:30 on the 16th: both ended
    fed(runtime)

    data = series(client, vendor_token, product["id"], "interval=day&from=2026-01-14&to=2026-01-17T23:59:59")

    assert [bucket["start"][:10] for bucket in data["buckets"]] == ["2026-01-14", "2026-01-15", "2026-01-16",
                                                                   "2026-01-17"]
    assert [counts(bucket) for bucket in data["buckets"]] == [
        (0, 0, 0, 0, 0, 0, 0, 0),
        (2, 2, 2, 1, 2, 2, 1, 2),  # pc-1 called four times and pc-2 once: two devices
        (1, 0, 0, 0, 1, 0, 0, 1),  # pc-1's open until the sweeper ended it; pc-2's lapsed at 14:30 the day before
        (0, 0, 0, 0, 0, 0, 0, 0),
    ]


def test_vendors_see_their_own_products_and_admins_all(client, vendor_token, admin_token, product, history):
    other = register(client, "other@example.com")
    path = f"/api/stats/products/{product['id']}/timeseries"

    assert client.get(path, headers=auth(admin_token)).status_code == 200
    response = client.get(path, headers=auth(other))
    assert (response.status_code, response.json()["error_code"]) == (404, "PRODUCT_NOT_FOUND")
    missing = client.get(f"/api/stats/products/{uuid4()}/timeseries", headers=auth(admin_token))
    assert missing.status_code == 404


def test_without_a_range_it_answers_the_last_30_days(client, vendor_token, product, history):
    data = series(client, vendor_token, product["id"], "")

    assert (data["interval"], len(data["buckets"])) == ("day", 30)
    assert data["buckets"][-1]["start"] == "2026-01-16T00:00:00.000000Z"  # today, by the test's clock
    assert sum(bucket["activations"] for bucket in data["buckets"]) == 2


BAD_RANGES = [
    "from=yesterday", "to=2026-13-01", "from=2026-01-16&to=2026-01-15", "interval=week", "interval=", "to=", "from=0",
    "interval=hour&from=2025-01-01&to=2026-01-02",  # more than a year of hours
    "interval=day&from=2010-01-01&to=2026-01-02",  # more than ten years of days
    f"from={'9' * 100}", "from=0001-01-01", "interval=hour&to=0001-01-01", "to=9999-12-31T23:00",
]


def test_a_year_of_hours_is_answered_and_anything_beyond_refused_in_the_envelope(client, vendor_token, product):
    data = series(client, vendor_token, product["id"], "interval=hour&from=2025-01-15&to=2026-01-15T23:00")
    assert len(data["buckets"]) == 24 * 366

    for query in BAD_RANGES:  # one server for them all (a server costs seconds to start)
        response = client.get(f"/api/stats/products/{product['id']}/timeseries?{query}", headers=auth(vendor_token))

        assert response.status_code == 400, (query, response.text)
        assert (response.json()["success"], response.json()["error_code"]) == (False, "VALIDATION_ERROR"), query


def test_keyledger_rebuild_builds_the_series_from_events_and_calls_already_stored(history, runtime, settings,
                                                                                     monkeypatch, capsys):
    from keyledger import cli
    from keyledger.wiring import build_runtime

    tables = ("timeseries", "timeseries_errors", "timeseries_devices")

    def rows(store):
        return {table: sorted(tuple(dict(row).values()) for row in store.query(f"SELECT * FROM {table}"))
                for table in tables}

    before = rows(runtime.store)
    runtime.close()  # `keyledger rebuild` runs with every projecting process stopped
    environ = {key: value for key, value in cli.os.environ.items() if not key.startswith("KEYLEDGER_")}
    environ |= {"KEYLEDGER_DATA_DIR": settings.data_dir, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST"}
    if settings.database_url:
        environ["KEYLEDGER_DATABASE_URL"] = settings.database_url
    monkeypatch.setattr(cli.os, "environ", environ)

    assert cli.main(["rebuild"]) == 0
    assert "client calls" in capsys.readouterr().out

    # Check the call log's half came back too, not only the event store's: devices, validations, errors.
    rebuilt = build_runtime(settings, start_projector=False, start_workers=False)
    try:
        after = rows(rebuilt.store)
    finally:
        rebuilt.close()
    assert before["timeseries_devices"] and before["timeseries_errors"]
    assert after == before
