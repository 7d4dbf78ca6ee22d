"""The spec's quick start over real HTTP against `keyledger serve`, then a restart that loses nothing."""

import stat

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_quick_start_walks_over_http_and_survives_a_restart(server):
    http = httpx.Client(base_url=server.base, timeout=30)
    registered = http.post("/auth/register", json={"email": "john@example.com", "password": "secret123",
                                                  "display_name": "John"})
    assert registered.status_code == 201 and registered.json()["data"]["user"]["role"] == "admin"

    token = http.post("/auth/login", json={"email": "john@example.com", "password": "secret123"}).json()["data"][
        "token"]
    headers = {"Authorization": f"Bearer {token}"}
    product = http.post("/products", json={"name": "My App", "description": "My application"},
                        headers=headers).json()["data"]
    license = http.post("/licenses", json={"product_id": product["id"], "type": "subscription", "max_uses": 1,
                                           "hwid_locked": True}, headers=headers).json()["data"]

    # Check the spec's shapes and the vendor's view.
    assert product["secret_key"].startswith("sk_live_")
    assert len(license["license_key"]) == 19 and license["license_key"].count("-") == 3
    assert license["status"] == "active"
    assert http.get("/auth/me", headers=headers).json()["data"]["email"] == "john@example.com"

    # Check a client activates, and the answer is signed.
    activated = http.post("/client/activate", json={"license_key": license["license_key"], "hwid": "pc-1",
                                                    "product_id": product["id"]}).json()["data"]
    assert activated["activated"] is True and activated["signature"]

    # Check keys on disk are private to the server's user.
    keys = list((server.data_dir / "keys").iterdir())
    assert {p.name for p in keys} >= {"master.key", "jwt.secret", "rsa-4096.pem", "ed25519.pem"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys)

    # Check bad input answers in the envelope.
    big = http.post("/products", content=b'{"name":"' + b"x" * 3_000_000 + b'"}',
                    headers={**headers, "Content-Type": "application/json"})
    broken = http.post("/products", content=b"{broken", headers={**headers, "Content-Type": "application/json"})
    assert (big.status_code, big.json()["error_code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert (broken.status_code, broken.json()["success"]) == (400, False)

    # Check nothing acknowledged is lost across a restart, and the same login still works.
    server.restart()
    http = httpx.Client(base_url=server.base, timeout=30)
    token = http.post("/auth/login", json={"email": "john@example.com", "password": "secret123"}).json()["data"][
        "token"]
    listed = http.get("/licenses", headers={"Authorization": f"Bearer {token}"}).json()["data"]["licenses"]
    assert [row["license_key"] for row in listed] == [license["license_key"]]
    assert listed[0]["current_uses"] == 1
    validated = http.post("/client/validate", json={"license_key": license["license_key"], "hwid": "pc-1",
                                                    "product_id": product["id"]})
    assert validated.status_code == 200
