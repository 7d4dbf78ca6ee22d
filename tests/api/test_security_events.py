"""Security events and stats: client calls and alerts in one read model, every filter of the spec."""

import pytest

from tests.conftest import auth, calling_from, settle
from workers.security_feed import feed_security_events, security_events_projection


def call(client, action, license, hwid="device-1", **extra):
    body = {"license_key": license["license_key"], "hwid": hwid, "product_id": license["product_id"], **extra}
    return client.post(f"/api/client/{action}", json=body)


def fed(runtime):
    """The read model once it has seen every event and every call so far."""
    settle(runtime)
    feed_security_events(security_events_projection(runtime.projector.projections), runtime.ledger.calls.store,
                         runtime.clock())


def events(client, admin_token, query=""):
    response = client.get(f"/api/security/events?{query}", headers=auth(admin_token))
    assert response.status_code == 200, response.text
    return response.json()["data"]["events"]


@pytest.fixture
def history(client, admin_token, license, runtime, clock):
    """An activation, a validation, a refusal for an unknown key, a blacklist hit and a quick block."""
    call(client, "activate", license)
    clock.advance(hours=1)
    call(client, "validate", license)
    clock.advance(seconds=1)
    call(client, "validate", {**license, "license_key": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, hwid="guesser")
    client.post("/api/security/blacklist", json={"type": "hwid", "value": "bad-pc"}, headers=auth(admin_token))
    clock.advance(hours=11, minutes=1)  # past midnight: the next (UTC) day
    with calling_from(client, "198.51.100.4"):
        call(client, "validate", license, hwid="bad-pc")
    clock.advance(seconds=1)
    client.post("/api/security/block-ip", json={"ip": "198.51.100.4", "reason": "guessing"},
                headers=auth(admin_token))
    fed(runtime)


def test_calls_and_alerts_are_listed_newest_first_with_their_severity(client, admin_token, license, history):
    listed = [(e["event_type"], e["severity"], e["is_blocked"], e["license_id"]) for e in events(client, admin_token)]
    assert listed == [
        ("manual_block", "high", True, None),
        ("blacklist_hit", "high", True, license["id"]),
        ("license_validation", "info", True, None),  # an unknown key: no license, listed all the same
        ("license_validation", "info", False, license["id"]),
        ("license_activation", "info", False, license["id"]),
    ]


@pytest.mark.parametrize(("query", "expected"), [
    ("event_type=license_validation", ["license_validation", "license_validation"]),
    ("severity=high", ["manual_block", "blacklist_hit"]),
    ("is_blocked=false", ["license_validation", "license_activation"]),
    ("hwid=guesser", ["license_validation"]),
    ("ip_address=198.51.100.4", ["manual_block", "blacklist_hit"]),
    ("start_date=2026-01-16T00:00:00Z", ["manual_block", "blacklist_hit"]),
    ("end_date=2026-01-15T12:30:00Z", ["license_activation"]),
    ("start_date=2026-01-15T12:30:00&end_date=2026-01-16T00:00:00", ["license_validation", "license_validation"]),
    ("limit=2&page=3", ["license_activation"]),
])
def test_every_filter_of_the_spec_narrows_the_list(client, admin_token, history, query, expected):
    assert [event["event_type"] for event in events(client, admin_token, query)] == expected


def test_the_license_filter_shows_only_that_licenses_events(client, admin_token, license, history):
    listed = events(client, admin_token, f"license_id={license['id']}")
    assert {event["license_id"] for event in listed} == {license["id"]} and len(listed) == 3


def test_stats_count_today_and_the_last_seven_days(client, admin_token, history, clock):
    response = client.get("/api/security/stats", headers=auth(admin_token))
    assert response.status_code == 200, response.text
    stats = response.json()["data"]
    assert stats["overview"] == {"today_events": 2, "critical_events": 0, "blocked_attempts": 2,
                                 "active_blacklist": 2, "active_sessions": 0}
    assert {row["event_type"]: row["count"] for row in stats["events_by_type"]} == {
        "license_validation": 2, "license_activation": 1, "blacklist_hit": 1, "manual_block": 1}
    assert {row["severity"]: row["count"] for row in stats["events_by_severity"]} == {"info": 3, "high": 2}
    trend = stats["daily_trend"]
    assert [row["date"] for row in trend][-2:] == ["2026-01-15", "2026-01-16"] and len(trend) == 7
    assert [(row["count"], row["blocked"]) for row in trend][-2:] == [(3, 1), (2, 2)]


def test_a_rebuilt_read_model_equals_the_incremental_one(client, admin_token, history, runtime):
    before = runtime.store.query("SELECT * FROM security_events ORDER BY id")
    runtime.projector.rebuild(["security_events"])
    fed(runtime)
    assert runtime.store.query("SELECT * FROM security_events ORDER BY id") == before and len(before) == 5


@pytest.mark.parametrize("query", [
    "start_date=yesterday", "end_date=2026-13-01T00:00:00Z", "start_date=0", "end_date=0.5", "end_date=", "event_type=coffee_spilled", "severity=extreme",
    "is_blocked=sometimes", "license_id=123", "page=0", "limit=0",
    "start_date=2026-01-16T00:00:00Z&end_date=2026-01-15T00:00:00Z", "hwid=a%00b", "ip_address=" + "1" * 65,
])
def test_bad_filters_are_refused(client, admin_token, query):
    response = client.get(f"/api/security/events?{query}", headers=auth(admin_token))
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("path", ["/api/security/events", "/api/security/stats"])
def test_a_vendor_who_is_not_an_admin_is_forbidden(client, vendor_token, path):
    response = client.get(path, headers=auth(vendor_token))
    assert (response.status_code, response.json()["error_code"]) == (403, "FORBIDDEN")


def test_the_feed_waits_at_a_fresh_gap_in_the_call_log_and_passes_an_old_one(runtime, clock):
    from adapters.call_log import to_row
    from domain.client_call import CallRecord
    from projections.call_rows import GAP_WAIT
    from projections.security_events import follow_calls

    def stored(position):
        return (position, *to_row(CallRecord("validation", None, None, None, None, "192.0.2.1", "pc", None, {},
                                             clock())))

    class CallsWithAGap:  # position 2 still committing (or rolled back)
        kept = [stored(1), stored(3)]

        def rows(self, after, limit):
            return [row for row in self.kept if row[0] > after][:limit]

    projection = security_events_projection(runtime.projector.projections)
    assert follow_calls(projection, CallsWithAGap(), clock()) == 1  # stops before the gap
    assert follow_calls(projection, CallsWithAGap(), clock()) == 0
    assert follow_calls(projection, CallsWithAGap(), clock() + GAP_WAIT) == 1  # a gap that old is passed
    ids = [row["id"] for row in runtime.store.query("SELECT id FROM security_events ORDER BY id")]
    assert ids == ["call:1", "call:3"]
