"""The detection rules, as a vendor's admin sees them in `/security/events` (docs/licensing-rules.md)."""

import threading

import pytest

from domain.validation import spoofed_hwid
from tests.conftest import auth, calling_from, create_license
from tests.api.test_security_events import call, events, fed


def listed_types(client, admin_token, runtime):
    fed(runtime)
    return [(event["event_type"], event["severity"], event["is_blocked"]) for event in events(client, admin_token)]


def test_a_call_reporting_a_debugger_and_a_vm_records_both(client, admin_token, license, runtime):
    data = {"vm_indicators": ["vbox"], "debug_indicators": ["ptrace"]}
    assert call(client, "activate", license, client_data=data).status_code == 200  # the policy allows both
    assert sorted(listed_types(client, admin_token, runtime)) == [("debug_detected", "high", False),
                                                                  ("vm_detected", "medium", False)]


def test_a_refused_debugger_call_with_vm_indicators_records_both_as_blocked(client, admin_token, vendor_token,
                                                                              runtime):
    from tests.conftest import create_product

    strict = create_product(client, vendor_token, "Strict", block_debugger=True)
    license = create_license(client, vendor_token, strict["id"])
    data = {"vm_indicators": ["vbox"], "debug_indicators": ["ptrace"]}
    assert call(client, "activate", license, client_data=data).json()["error_code"] == "SECURITY_VIOLATION"
    assert sorted(listed_types(client, admin_token, runtime)) == [("debug_detected", "high", True),
                                                                  ("vm_detected", "medium", True)]


@pytest.mark.parametrize("hwid", ["00000000-0000-0000-0000-000000000000", "FFFFFFFFFFFF", "To Be Filled By O.E.M."])
def test_a_placeholder_hwid_is_recorded_as_a_spoof_attempt(client, admin_token, license, runtime, hwid):
    assert call(client, "activate", license, hwid).status_code == 200  # recorded, not refused
    assert listed_types(client, admin_token, runtime) == [("hwid_spoof_attempt", "high", False)]


def test_a_heartbeat_from_another_address_is_recorded_as_an_ip_mismatch(client, admin_token, license, runtime):
    with calling_from(client, "203.0.113.1"):
        token = call(client, "activate", license).json()["data"]["session"]["token"]
        token = call(client, "heartbeat", license, session_token=token).json()["data"]["new_token"]
    with calling_from(client, "198.51.100.2"):
        moved = call(client, "heartbeat", license, session_token=token)
    assert moved.status_code == 200  # the session lives on: a laptop changes networks
    fed(runtime)
    mismatches = events(client, admin_token, "event_type=ip_mismatch")
    assert [(e["ip_address"], e["severity"], e["is_blocked"]) for e in mismatches] == [("198.51.100.2", "low", False)]


def test_refusals_are_listed_with_their_own_types(client, admin_token, vendor_token, product, runtime, clock):
    license = create_license(client, vendor_token, product["id"], max_uses=2)
    token = call(client, "activate", license, "pc-1").json()["data"]["session"]["token"]
    call(client, "activate", license, "pc-2")
    clock.advance(seconds=1)
    assert call(client, "validate", license, "pc-3").json()["error_code"] == "HWID_MISMATCH"
    clock.advance(seconds=1)
    assert call(client, "heartbeat", license, "pc-2", session_token=token).json()["error_code"] == "SECURITY_VIOLATION"
    assert listed_types(client, admin_token, runtime)[:2] == [("session_hijack", "critical", True),
                                                              ("hwid_mismatch", "medium", True)]


def test_only_placeholders_and_repeated_characters_count_as_spoofed():
    assert spoofed_hwid("0000-0000-0000") and spoofed_hwid(" unknown ")
    assert not spoofed_hwid("a1b2c3d4e5") and not spoofed_hwid("0000") and not spoofed_hwid(None)


DEFAULT_POLICY = {"hwid_spoof_attempt": "record", "ip_mismatch": "record", "geo_anomaly": "record",
                  "vm_detected": "record", "debug_detected": "record"}


def set_policy(client, vendor_token, product, **body):
    return client.put(f"/api/products/{product['id']}", json=body, headers=auth(vendor_token))


def test_a_products_policy_blocks_a_spoofed_hwid_when_it_says_so(client, admin_token, vendor_token, product,
                                                                 license, runtime):
    # Check the product shows every detection at its default, then the one set to block.
    assert product["security_policy"] == DEFAULT_POLICY
    changed = set_policy(client, vendor_token, product, security_policy={"hwid_spoof_attempt": "block"})
    assert changed.json()["data"]["security_policy"] == {**DEFAULT_POLICY, "hwid_spoof_attempt": "block"}

    refused = call(client, "activate", license, "00000000-0000-0000-0000-000000000000")
    assert (refused.status_code, refused.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert listed_types(client, admin_token, runtime) == [("hwid_spoof_attempt", "high", True)]


def test_a_products_policy_can_refuse_a_heartbeat_from_another_address(client, vendor_token, product, license):
    set_policy(client, vendor_token, product, security_policy={"ip_mismatch": "block"})
    with calling_from(client, "203.0.113.1"):
        token = call(client, "activate", license).json()["data"]["session"]["token"]
    with calling_from(client, "198.51.100.2"):
        moved = call(client, "heartbeat", license, session_token=token)
    assert (moved.status_code, moved.json()["error_code"]) == (403, "SECURITY_VIOLATION")


def test_a_policy_that_names_no_detection_or_contradicts_itself_is_refused(client, vendor_token, product):
    for body in ({"security_policy": {"tamper_detected": "record"}}, {"security_policy": {"vm_detected": "allow"}},
                 {"block_vm": True, "security_policy": {"vm_detected": "record"}}):
        response = set_policy(client, vendor_token, product, **body)
        assert (response.status_code, response.json()["error_code"]) == (400, "VALIDATION_ERROR"), body
    shown = client.get(f"/api/products/{product['id']}", headers=auth(vendor_token)).json()["data"]
    assert shown["security_policy"] == DEFAULT_POLICY and shown["block_vm"] is False


@pytest.fixture
def settings(settings):
    import msgspec

    return msgspec.structs.replace(settings, webhook_allow_private=True, webhook_hosts="127.0.0.1",
                                   webhook_sweep_interval=0.05)


def alerts_of(runtime):
    notifications = runtime.ledger.recorder.select_notifications(1, 10_000, topics=["domain.security:SecurityAlert.Raised"])
    return sorted(notification.originator_id for notification in notifications)


def test_detections_in_calls_raise_alerts_once_and_webhooks_deliver_them(client, admin_token, vendor_token, product,
                                                                         license, runtime):
    from tests.webhook_receiver import Receiver
    from workers.security_feed import feed_security_events, security_events_projection

    with Receiver() as receiver:
        hook = {"url": receiver.url, "events": ["security.alert", "security.blocked"], "secret": "whsec_receiver_secret"}
        assert client.post("/api/webhooks", json=hook, headers=auth(vendor_token)).status_code == 201
        set_policy(client, vendor_token, product, security_policy={"hwid_spoof_attempt": "block"})
        call(client, "activate", license, "pc-1", client_data={"vm_indicators": ["vbox"]})  # recorded only
        spoofer = create_license(client, vendor_token, product["id"])
        call(client, "activate", spoofer, "0000-0000-0000")  # blocked by the policy
        call(client, "validate", license, "pc-1")  # info: no alert
        feed = security_events_projection(runtime.projector.projections)

        def follow():
            feed_security_events(feed, runtime.ledger.calls.store, runtime.clock(), runtime.ledger.raise_call_alerts)

        followers = [threading.Thread(target=follow) for _ in range(2)]  # two followers of one call log, racing
        for follower in followers:
            follower.start()
        for follower in followers:
            follower.join()

        # Check one alert each, and none again when the calls are read again (a rebuild of the read model).
        raised = alerts_of(runtime)
        assert len(raised) == 2
        with runtime.store.transaction() as cursor:
            cursor.execute("DELETE FROM projection_tracking WHERE projection = 'security_events'"
                           " AND application_name = 'client_calls'")
        follow()
        assert alerts_of(runtime) == raised
        # Check the ids alone keep them single when the alerts' own position is lost too.
        with runtime.store.transaction() as cursor:
            cursor.execute("DELETE FROM projection_tracking WHERE application_name = 'client_calls'")
        follow()
        assert alerts_of(runtime) == raised

        # Check the read model lists each call once, and the receiver got both kinds of alert.
        assert sorted(listed_types(client, admin_token, runtime)) == [
            ("hwid_spoof_attempt", "high", True), ("license_validation", "info", False),
            ("vm_detected", "medium", False)]
        receiver.wait_for(lambda r: len(r.received) == 2)
    delivered = {item.json["type"]: item.json["data"] for item in receiver.received}
    assert delivered["security.blocked"]["event_type"] == "hwid_spoof_attempt"
    assert delivered["security.alert"]["event_type"] == "vm_detected"
