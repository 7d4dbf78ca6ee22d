"""Lockence compatibility: init, validate, heartbeat, logout with the product secret as api_key."""

import pytest

from tests.conftest import auth, create_license, create_product


@pytest.fixture
def product(client, vendor_token):
    return create_product(client, vendor_token)


@pytest.fixture
def license(client, vendor_token, product):
    license = create_license(client, vendor_token, product["id"], metadata={"plan": "pro"})
    client.put(f"/api/licenses/{license['id']}", json={"username": "john_doe"}, headers=auth(vendor_token))
    return license


def init(client, product, license, hwid="pc-1"):
    return client.post("/api/v1/init", json={"api_key": product["secret_key"], "license_key": license["license_key"],
                                             "hwid": hwid})


def test_lockence_session_lifecycle(client, product, license):
    started = init(client, product, license)
    body = started.json()
    assert started.status_code == 200
    assert body["success"] is True and body["message"] == "Authentication successful"
    assert body["username"] == "john_doe" and body["metadata"] == {"plan": "pro"} and body["expires_at"]

    session = {"api_key": product["secret_key"], "session_token": body["session_token"]}
    valid = client.post("/api/v1/validate", json=session).json()
    assert valid == {"success": True, "message": "Session is valid", "username": "john_doe",
                     "metadata": {"plan": "pro"}}
    assert client.post("/api/v1/heartbeat", json=session).json()["success"] is True
    assert client.post("/api/v1/logout", json=session).json()["success"] is True
    after = client.post("/api/v1/validate", json=session)
    assert after.status_code == 404 and after.json()["success"] is False


def test_lockence_errors_use_its_statuses(client, product, license):
    bad_key = client.post("/api/v1/init", json={"api_key": "sk_live_wrong", "license_key": license["license_key"],
                                                "hwid": "pc"})
    unknown = client.post("/api/v1/init", json={"api_key": product["secret_key"], "license_key": "AAAA-BBBB-CCCC-DDDD",
                                                "hwid": "pc"})
    init(client, product, license, hwid="pc-1")
    mismatch = init(client, product, license, hwid="pc-2")

    assert (bad_key.status_code, bad_key.json()["message"]) == (401, "Invalid API key")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Invalid license key")
    assert (mismatch.status_code, mismatch.json()["message"]) == (403, "HWID mismatch")


def test_rotated_secret_stops_the_old_api_key(client, vendor_token, product, license):
    client.post(f"/api/products/{product['id']}/regenerate-secret", headers=auth(vendor_token))
    assert init(client, product, license).status_code == 401


@pytest.mark.parametrize("action", ["validate", "heartbeat", "logout"])
def test_session_of_another_product_is_not_found(client, vendor_token, product, license, action):
    other = create_product(client, vendor_token, "Other")
    token = init(client, product, license).json()["session_token"]
    response = client.post(f"/api/v1/{action}", json={"api_key": other["secret_key"], "session_token": token})
    assert response.status_code == 404
    # Check another vendor's key changed nothing: the session still answers to its own product's key.
    assert client.post("/api/v1/validate", json={"api_key": product["secret_key"], "session_token": token}
                       ).status_code == 200
