"""Info security events leave `/security/events` after KEYLEDGER_SECURITY_INFO_DAYS; detections and calls stay."""

import msgspec
import pytest

from tests.api.test_security_events import call, events
from tests.conftest import auth, eventually, settle


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, security_info_days=7, sweep_interval=0.05,
                                   run_call_followers=False)  # the tests feed: no feed thread races the clock


@pytest.fixture
def old_calls(client, admin_token, license):
    """An activation and a validation (info), and a blacklist hit (high), all on one day."""
    call(client, "activate", license)
    call(client, "validate", license)
    client.post("/api/security/blacklist", json={"type": "hwid", "value": "bad-pc"}, headers=auth(admin_token))
    call(client, "validate", license, hwid="bad-pc")


def login(client, email):
    """A fresh token: the fixtures' expire with the days the clock skips."""
    response = client.post("/api/auth/login", json={"email": email, "password": "secret123"})
    assert response.status_code == 200, response.text
    return response.json()["data"]["token"]


def listed(client, admin_token):
    return [(event["event_type"], event["severity"]) for event in events(client, admin_token)]


def logged(client, vendor_token, license):
    response = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(vendor_token))
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["data"]["logs"]]


def test_the_sweeper_removes_info_events_past_their_retention_and_keeps_the_rest(
        client, admin_token, vendor_token, license, old_calls, runtime, clock):
    settle(runtime)
    runtime.follow_call_log()
    assert listed(client, admin_token) == [("blacklist_hit", "high"), ("license_validation", "info"),
                                           ("license_activation", "info")]

    clock.advance(days=7, seconds=1)
    call(client, "validate", license)
    runtime.follow_call_log()
    admin_token, vendor_token = login(client, "admin@example.com"), login(client, "vendor@example.com")
    eventually(lambda: listed(client, admin_token) == [("license_validation", "info"), ("blacklist_hit", "high")],
               lambda: listed(client, admin_token), 10)  # by the runtime's own sweeper, every 0.05 s
    assert logged(client, vendor_token, license)[:4] == ["validation", "validation", "validation", "activation"]


def test_calls_already_past_their_retention_are_never_listed_and_a_rebuild_agrees(
        client, admin_token, license, old_calls, runtime, clock):
    clock.advance(days=8)  # before any feed has copied them
    settle(runtime)
    runtime.follow_call_log()
    admin_token = login(client, "admin@example.com")
    assert listed(client, admin_token) == [("blacklist_hit", "high")]

    before = runtime.store.query("SELECT * FROM security_events ORDER BY id")
    runtime.projector.rebuild(["security_events"])
    runtime.follow_call_log()
    assert runtime.store.query("SELECT * FROM security_events ORDER BY id") == before
