"""Webhook delivery in the embedded default: a real receiver on 127.0.0.1 gets every type, signed; retries keep
the event's id; every attempt is listed; an endpoint that keeps failing is disabled and its owner told."""

from uuid import UUID

import msgspec
import pytest

from domain.security import SecurityAlert
from keyledger.settings import Settings
from keys.webhook_signature import verify_webhook_signature
from tests.conftest import auth, create_license, create_product, eventually, settle
from tests.webhook_receiver import Receiver
from workers.expiry import sweep_expired

ALL_TYPES = ["license.created", "license.activated", "license.deactivated", "license.expired", "license.suspended",
             "license.deleted", "security.alert", "security.blocked"]
SECRET = "whsec_receiver_secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True, webhook_hosts="127.0.0.1",
                                   webhook_sweep_interval=0.05, webhook_disable_after=3)


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver


def hook(client, token, url, events=ALL_TYPES):
    response = client.post("/api/webhooks", json={"url": url, "events": events, "secret": SECRET},
                           headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def quiet(runtime):
    """Wait until the dispatcher has taken every event and no delivery is due or in flight (a test moves its
    clock only then: a jump of the clock past an attempt's lease would let a second worker take it)."""
    runtime.dispatcher.wait(runtime.ledger.position(), timeout=10)
    eventually(lambda: not runtime.deliverer.due() and not runtime.store.query(
        "SELECT id FROM webhook_deliveries WHERE lease_until IS NOT NULL"), "deliveries still due or leased", 10, 0.02)


def raise_alert(runtime, clock, product_id, blocked):
    alert = SecurityAlert("replay_attack", "high", product_id and UUID(product_id), None, "203.0.113.9", None,
                          blocked, {"reason": "test"}, clock())
    runtime.ledger.save(alert)
    return alert


def test_receiver_gets_every_type_signed_each_once(client, admin_token, vendor_token, receiver, runtime, clock):
    admin_receiver = Receiver().__enter__()
    try:
        hook(client, vendor_token, receiver.url)
        hook(client, admin_token, admin_receiver.url, ["security.alert"])
        product = create_product(client, vendor_token)
        license = create_license(client, vendor_token, product["id"], expires_at="2026-01-15T12:30:00Z")
        body = {"license_key": license["license_key"], "product_id": product["id"], "hwid": "pc-1"}
        assert client.post("/api/client/activate", json=body).json()["success"] is True
        assert client.post("/api/client/deactivate", json=body).json()["success"] is True
        quiet(runtime)
        clock.advance(hours=1)
        settle(runtime)
        assert sweep_expired(runtime.ledger, runtime.store, clock()) == 1
        assert sweep_expired(runtime.ledger, runtime.store, clock()) == 0  # once
        client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
        client.delete(f"/api/licenses/{license['id']}", headers=auth(vendor_token))
        raise_alert(runtime, clock, product["id"], blocked=True)
        raise_alert(runtime, clock, None, blocked=False)

        receiver.wait_for(lambda r: len(r.received) == 7)
        admin_receiver.wait_for(lambda r: len(r.received) == 1)
    finally:
        admin_receiver.__exit__()

    got = receiver.received
    assert sorted(item.json["type"] for item in got) == sorted(set(ALL_TYPES) - {"security.alert"})
    assert admin_receiver.received[0].json["type"] == "security.alert"
    assert admin_receiver.received[0].json["data"]["product_id"] is None
    for item in [*got, *admin_receiver.received]:
        assert verify_webhook_signature(SECRET, item.headers["keyledger-signature"], item.body,
                                        int(clock().timestamp()), tolerance=7200)
        assert item.headers["keyledger-event"] == item.json["type"]
        assert set(item.json) == {"id", "type", "created_at", "data"}
    assert len({item.json["id"] for item in got}) == 7
    activated = receiver.of_type("license.activated")[0].json["data"]
    assert (activated["license_key"], activated["hwid"]) == (license["license_key"], "pc-1")
    assert receiver.of_type("security.blocked")[0].json["data"]["blocked"] is True


def test_another_vendors_events_never_reach_a_webhook(client, vendor_token, receiver, runtime):
    from tests.conftest import register

    other = register(client, "other@example.com")
    hook(client, vendor_token, receiver.url)
    create_license(client, other, create_product(client, other)["id"])
    create_license(client, vendor_token, create_product(client, vendor_token)["id"])

    receiver.wait_for(lambda r: len(r.received) == 1)
    settle(runtime)
    runtime.dispatcher.wait(runtime.ledger.position(), timeout=10)
    assert len(receiver.received) == 1


def test_a_receiver_failing_twice_gets_the_same_id_three_times(client, vendor_token, runtime, clock):
    with Receiver(statuses=[500, 503]) as receiver:
        webhook = hook(client, vendor_token, receiver.url, ["license.created"])
        create_license(client, vendor_token, create_product(client, vendor_token)["id"])
        receiver.wait_for(lambda r: len(r.received) == 1)
        quiet(runtime)
        clock.advance(seconds=40)  # past the first retry's time (30 s ± 20 %)
        receiver.wait_for(lambda r: len(r.received) == 2)
        quiet(runtime)
        clock.advance(seconds=80)  # past the second's (60 s ± 20 %)
        receiver.wait_for(lambda r: len(r.received) == 3)

    assert len({item.json["id"] for item in receiver.received}) == 1
    assert len({item.headers["keyledger-delivery"] for item in receiver.received}) == 1
    deliveries = wait_delivered(client, vendor_token, webhook["id"])
    (delivery,) = deliveries
    assert delivery["state"] == "delivered" and delivery["event_id"] == receiver.received[0].json["id"]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [a["next_retry_at"] is not None for a in delivery["attempts"]] == [True, True, False]
    assert delivery["attempts"][0]["error"] == "HTTP 500" and delivery["attempts"][0]["response_excerpt"] == "nope"


def wait_delivered(client, token, webhook_id):
    import time

    deadline = time.monotonic() + 10
    while True:
        deliveries = client.get(f"/api/webhooks/{webhook_id}/deliveries", headers=auth(token)).json()["data"]
        if all(d["state"] != "pending" for d in deliveries["deliveries"]) or time.monotonic() > deadline:
            return deliveries["deliveries"]
        time.sleep(0.02)


def test_an_endpoint_failing_again_and_again_is_disabled_and_its_owner_told(client, vendor_token, runtime):
    with Receiver(statuses=[500] * 10) as receiver:
        webhook = hook(client, vendor_token, receiver.url, ["license.created"])
        product = create_product(client, vendor_token)
        for _ in range(3):
            create_license(client, vendor_token, product["id"])
        receiver.wait_for(lambda r: len(r.received) == 3)
        settle(runtime)
        eventually(lambda: not client.get(f"/api/webhooks/{webhook['id']}", headers=auth(vendor_token))
                   .json()["data"]["is_active"], "the endpoint is disabled", 10, 0.02)
        create_license(client, vendor_token, product["id"])  # no longer delivered
        runtime.dispatcher.wait(runtime.ledger.position(), timeout=10)

    notifications = client.get("/api/notifications", headers=auth(vendor_token)).json()["data"]
    assert [n["type"] for n in notifications if n["type"] == "webhook_disabled"] == ["webhook_disabled"]
    assert len(receiver.received) == 3


def test_replay_resends_exactly_the_matching_events(client, vendor_token, receiver, runtime, clock):
    from tests.conftest import register

    product = create_product(client, vendor_token)
    first = create_license(client, vendor_token, product["id"])
    after_first = runtime.ledger.position()
    second = create_license(client, vendor_token, product["id"], hwid_locked=False)
    client.put(f"/api/licenses/{second['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    body = {"license_key": first["license_key"], "product_id": product["id"], "hwid": "pc-1"}
    client.post("/api/client/activate", json=body)  # a type the webhook does not want
    other = register(client, "other@example.com")
    create_license(client, other, create_product(client, other)["id"])  # another vendor's
    webhook = hook(client, vendor_token, receiver.url, ["license.created", "license.suspended"])
    url = f"/api/webhooks/{webhook['id']}/replay"

    everything = client.post(url, json={"after": 0}, headers=auth(vendor_token)).json()["data"]
    receiver.wait_for(lambda r: len(r.received) == 3)
    later = client.post(url, json={"after": after_first}, headers=auth(vendor_token)).json()["data"]
    receiver.wait_for(lambda r: len(r.received) == 5)
    none_since = client.post(url, json={"since": "2026-01-16T00:00:00Z"}, headers=auth(vendor_token)).json()["data"]
    refused = client.post(url, json={}, headers=auth(vendor_token))

    got = [(item.json["type"], item.json["data"]["license_id"]) for item in receiver.received]
    assert sorted(got[:3]) == sorted([("license.created", first["id"]), ("license.created", second["id"]),
                                      ("license.suspended", second["id"])])
    assert sorted(got[3:]) == sorted([("license.created", second["id"]), ("license.suspended", second["id"])])
    assert (everything["queued"], later["queued"], none_since["queued"]) == (3, 2, 0)
    assert everything["upto"] >= after_first and everything["replay_id"] != later["replay_id"]
    assert {item.json["id"] for item in receiver.received[3:]} <= {item.json["id"] for item in receiver.received[:3]}
    assert refused.status_code == 400 and refused.json()["error_code"] == "VALIDATION_ERROR"
    quiet(runtime)
    assert len(receiver.received) == 5


def test_retry_sends_a_delivered_event_again_with_its_id(client, vendor_token, receiver, runtime):
    webhook = hook(client, vendor_token, receiver.url, ["license.created"])
    create_license(client, vendor_token, create_product(client, vendor_token)["id"])
    receiver.wait_for(lambda r: len(r.received) == 1)
    (delivery,) = wait_delivered(client, vendor_token, webhook["id"])

    answer = client.post(f"/api/webhooks/{webhook['id']}/deliveries/{delivery['id']}/retry",
                         headers=auth(vendor_token))
    receiver.wait_for(lambda r: len(r.received) == 2)
    missing = client.post(f"/api/webhooks/{webhook['id']}/deliveries/{webhook['id']}/retry",
                          headers=auth(vendor_token))

    assert answer.status_code == 200 and answer.json()["data"]["id"] == delivery["id"]
    assert receiver.received[0].json["id"] == receiver.received[1].json["id"]
    (after,) = wait_delivered(client, vendor_token, webhook["id"])
    assert [a["status_code"] for a in after["attempts"]] == [200, 200]
    assert (missing.status_code, missing.json()["error_code"]) == (404, "DELIVERY_NOT_FOUND")


def test_deleting_a_product_tells_of_each_license_it_deleted(client, vendor_token, receiver, runtime):
    hook(client, vendor_token, receiver.url, ["license.deleted"])
    product = create_product(client, vendor_token)
    kept, gone_before = (create_license(client, vendor_token, product["id"]) for _ in range(2))
    client.delete(f"/api/licenses/{gone_before['id']}", headers=auth(vendor_token))
    client.delete(f"/api/products/{product['id']}", headers=auth(vendor_token))

    receiver.wait_for(lambda r: len(r.received) == 2)
    quiet(runtime)
    deleted = sorted((item.json["data"]["license_id"], item.json["data"]["reason"]) for item in receiver.received)
    assert deleted == sorted([(kept["id"], "product_deleted"), (gone_before["id"], "deleted")])


def test_finished_deliveries_leave_the_log_after_its_retention_and_pending_ones_stay(client, vendor_token, runtime,
                                                                                   clock):
    from datetime import timedelta

    from workers.deliveries import prune_delivery_log

    with Receiver(statuses=[200, 500]) as receiver:
        webhook = hook(client, vendor_token, receiver.url, ["license.created"])
        product = create_product(client, vendor_token)
        create_license(client, vendor_token, product["id"])
        receiver.wait_for(lambda r: len(r.received) == 1)
        (delivered,) = wait_delivered(client, vendor_token, webhook["id"])
        create_license(client, vendor_token, product["id"])  # answered 500: pending, its retry due later
        receiver.wait_for(lambda r: len(r.received) == 2)
        quiet(runtime)

        kept = prune_delivery_log(runtime.store, clock() - timedelta(days=30))  # both younger than 30 days
        removed = prune_delivery_log(runtime.store, clock() + timedelta(seconds=1))

    listed = client.get(f"/api/webhooks/{webhook['id']}/deliveries", headers=auth(vendor_token)).json()["data"]
    assert (kept, removed) == (0, 1)
    assert [d["state"] for d in listed["deliveries"]] == ["pending"]
    assert runtime.store.query("SELECT COUNT(*) AS n FROM webhook_attempts WHERE delivery_id = ?",
                               (delivered["id"],))[0]["n"] == 0
