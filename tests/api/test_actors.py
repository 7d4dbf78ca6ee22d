"""Every event says who caused it and how (domain/actor.py), and the license history shows it: a vendor's
account through the vendor API, a client's product and device, the sweeper, the CLI; an event stored
before events recorded an actor replays as `unknown`."""

from __future__ import annotations

import getpass
from datetime import timedelta
from uuid import UUID

import pytest

from commands.history import events_of
from domain.account import Account
from domain.actor import UNKNOWN
from keyledger import cli
from tests.conftest import auth, calling_from, create_license, create_product, settle
from workers.expiry import sweep_expired

pytestmark = pytest.mark.usefixtures("backend")


def history(client, token, license_id, **params):
    answer = client.get(f"/api/licenses/{license_id}/history", params=params, headers=auth(token))
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["events"]


def actor_of(events, event_type):
    return next(event["actor"] for event in events if event["type"] == event_type)


def test_a_vendors_changes_name_its_account_email_role_request_and_ip(client, vendor_token):
    me = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]
    product = create_product(client, vendor_token)
    with calling_from(client, "203.0.113.7"):
        created = client.post("/api/licenses", json={"product_id": product["id"]},
                              headers={**auth(vendor_token), "X-Request-ID": "req-create-1"})
        suspended = client.put(f"/api/licenses/{created.json()['data']['id']}", json={"status": "suspended"},
                               headers=auth(vendor_token))

    events = history(client, vendor_token, created.json()["data"]["id"])
    # Check the account, its email and role, the channel, the caller's request id and the IP.
    assert actor_of(events, "License.Issued") == {
        "kind": "account", "channel": "vendor_api", "account_id": me["id"], "email": "vendor@example.com",
        "role": "user", "product_id": None, "device": None, "name": None, "os_user": None, "request_id": "req-create-1",
        "ip": "203.0.113.7"}
    assert created.headers["x-request-id"] == "req-create-1"
    # Check a request without an id of its own gets one, sent back and recorded.
    assert actor_of(events, "License.Suspended")["request_id"] == suspended.headers["x-request-id"]
    assert len(suspended.headers["x-request-id"]) == 32
    # Check a request id that is not plain (spaces, control characters, too long) is replaced by one of ours.
    answer = client.get("/api/products", headers={**auth(vendor_token), "X-Request-ID": "a b\tc" + "x" * 80})
    assert answer.status_code == 200 and len(answer.headers["x-request-id"]) == 32


def test_a_client_activation_names_the_product_and_device(client, runtime, vendor_token, license, product):
    with calling_from(client, "198.51.100.9"):
        activated = client.post("/api/client/activate", json={
            "license_key": license["license_key"], "hwid": "dev-1", "product_id": product["id"]})
    assert activated.status_code == 200
    settle(runtime)  # the history finds the license's sessions in their read model

    events = history(client, vendor_token, license["id"], include="sessions")
    # Check the binding and the session it started both name the product, the device and the channel.
    for event_type in ("License.ActivatedOnDevice", "Session.Started"):
        actor = actor_of(events, event_type)
        assert (actor["kind"], actor["channel"], actor["product_id"], actor["device"], actor["ip"]) == (
            "client", "client_api", product["id"], "dev-1", "198.51.100.9"), event_type
        assert actor["account_id"] is None and actor["request_id"]
    assert actor_of(events, "License.ActivatedOnDevice")["request_id"] == actor_of(events, "Session.Started")[
        "request_id"]


def test_the_sweepers_expiry_is_the_systems(client, runtime, clock, vendor_token, product):
    ends = (clock.now + timedelta(hours=1)).isoformat()
    license = create_license(client, vendor_token, product["id"], expires_at=ends)
    clock.advance(hours=2)
    settle(runtime)

    assert sweep_expired(runtime.ledger, runtime.store, clock()) == 1
    assert actor_of(history(client, vendor_token, license["id"]), "License.Expired") == {
        "kind": "system", "channel": "worker", "name": "expiry-sweeper", "os_user": None, "account_id": None, "email": None,
        "role": None, "product_id": None, "device": None, "request_id": None, "ip": None}


def test_a_cli_action_is_the_clis(client, runtime, settings, vendor_token, monkeypatch):
    environ = {key: value for key, value in cli.os.environ.items() if not key.startswith("KEYLEDGER_")}
    environ |= {"KEYLEDGER_DATA_DIR": settings.data_dir, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST"}
    if settings.database_url:
        environ["KEYLEDGER_DATABASE_URL"] = settings.database_url
    monkeypatch.setattr(cli.os, "environ", environ)
    me = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]

    assert cli.main(["admin", "promote", "vendor@example.com"]) == 0
    promoted = [event for event in events_of(runtime.ledger, UUID(me["id"]))
                if isinstance(event, Account.RoleChanged)]
    assert promoted[-1].actor.as_dict() == {"kind": "system", "channel": "cli", "name": "admin promote",
                                            "os_user": getpass.getuser()}


def test_an_event_stored_without_an_actor_replays_as_unknown(client, runtime, vendor_token, license):
    ledger, license_id = runtime.ledger, UUID(license["id"])
    last = list(events_of(ledger, license_id))[-1]
    # Check a suspension written the old way (its stored state has no actor) replays, in the store and the history.
    state = {"timestamp": last.timestamp, "reason": "written the old way", "at": last.at}
    old = type(ledger.recorder.select_events(license_id, limit=1)[0])(
        license_id, last.originator_version + 1, "domain.license:License.Suspended", ledger.mapper.transcoder.encode(state))
    assert b"actor" not in old.state
    ledger.recorder.insert_events([old])

    replayed = list(events_of(ledger, license_id))[-1]
    assert replayed.reason == "written the old way" and replayed.actor is UNKNOWN
    events = history(client, vendor_token, license["id"])
    assert events[-1]["type"] == "License.Suspended" and events[-1]["actor"]["kind"] == "unknown"
    assert events[0]["actor"]["kind"] == "account"
    settle(runtime)
    assert client.get(f"/api/licenses/{license['id']}", headers=auth(vendor_token)).json()["data"]["status"] == \
        "suspended"
