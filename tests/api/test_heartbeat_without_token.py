"""A heartbeat without a session token (Rust's automatic one, Delphi's after a validation) keeps the live
session of that license on that device alive, its token unchanged; whether one runs is decided from the
event store, so a suspension or revoke applies on the very next call."""

import threading
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from domain.account import Actor
from domain.license import License, LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from keyledger.wiring import build_runtime
from tests.api.test_client_security import body_for
from tests.conftest import auth, create_license


def beat(client, license, hwid="device-1", **extra):
    return client.post("/api/client/heartbeat", json=body_for(license, hwid=hwid, **extra))


def activated(client, license, hwid="device-1"):
    return client.post("/api/client/activate", json=body_for(license, hwid=hwid)).json()["data"]["session"]


def test_a_heartbeat_without_token_keeps_the_devices_session_alive_and_its_token(client, license, clock):
    session = activated(client, license)
    clock.advance(minutes=50)

    renewed = beat(client, license)
    clock.advance(minutes=50)  # past the first expiry: only the token-less heartbeat kept the session

    # Check the session lives on under the same token, which therefore keeps working.
    assert renewed.status_code == 200 and "new_token" not in renewed.json()["data"]
    assert renewed.json()["data"]["expires_at"] > session["expires_at"]
    assert beat(client, license, session_token=session["token"]).status_code == 200


def test_without_a_session_on_the_device_it_is_refused(client, vendor_token, product):
    license = create_license(client, vendor_token, product["id"], max_uses=2)
    activated(client, license, hwid="device-1")
    client.post("/api/client/activate", json=body_for(license, hwid="device-2"))
    client.post("/api/client/deactivate", json=body_for(license, hwid="device-2"))

    unbound = beat(client, license, hwid="device-2")
    unknown = beat(client, {**license, "license_key": "AAAA-BBBB-CCCC-DDDD"})

    assert (unbound.status_code, unbound.json()["error_code"]) == (403, "HWID_MISMATCH")
    assert unknown.json()["error_code"] == "LICENSE_NOT_FOUND"


def test_a_suspension_applies_on_the_very_next_heartbeat_without_token(client, vendor_token, license):
    activated(client, license)
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    assert beat(client, license).json()["error_code"] == "LICENSE_SUSPENDED"
    client.put(f"/api/licenses/{license['id']}", json={"status": "active"}, headers=auth(vendor_token))
    assert beat(client, license).status_code == 200


def test_a_lapsed_or_revoked_session_is_not_brought_back(client, runtime, license, clock):
    activated(client, license)
    clock.advance(minutes=61)
    assert beat(client, license).json()["error_code"] == "SESSION_EXPIRED"

    activated(client, license)
    stored = runtime.ledger.repository.get(License.create_id(license["license_key"]))
    stored.revoke_sessions("revoked by an admin", clock())
    runtime.ledger.record(stored)
    # Check the revoke applies at once, before any read model or sweeper hears of it.
    assert beat(client, license).json()["error_code"] == "SESSION_EXPIRED"


def test_a_session_started_moments_ago_is_found_though_the_read_model_lags(settings, clock):
    runtime = build_runtime(settings, clock=clock, start_projector=False)
    ledger = runtime.ledger
    actor = Actor(ledger.register_account("v@example.com", "secret123", "V", clock()).id, is_admin=False)
    product = ledger.create_product(actor, "App", "", SigningAlgorithm.RSA, clock()).id
    ids, _ = ledger.issue_licenses(actor, product, 1, LicenseTerms(license_type=LicenseType.LIFETIME), clock())
    license: dict[str, Any] = {"license_key": ledger.get_license(actor, ids[0]).key, "product_id": str(product)}
    runtime.projector.catch_up()
    with TestClient(app=create_app(runtime)) as client:
        activated(client, license)  # its session is in the event store, not yet in the sessions read model

        # Check the heartbeat, finding no session, waits for the read model to reach the head, and finds it.
        projecting = threading.Timer(0.2, runtime.projector.catch_up)
        projecting.start()
        answer = beat(client, license)
        projecting.join()
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("compatibility", ["keyledger", "licensecm-sdk"])
def test_rusts_heartbeat_right_after_activation_is_answered(client, vendor_token, compatibility):
    from tests.conftest import create_product

    product = create_product(client, vendor_token, client_compatibility=compatibility)
    license = create_license(client, vendor_token, product["id"])
    activated(client, license)
    body = {"license_key": license["license_key"], "hwid": "device-1", "product_id": product["id"]}
    assert client.post("/api/client/heartbeat", json=body).status_code == 200
