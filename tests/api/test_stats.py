"""Statistics: the dashboard and per-product figures a vendor reads."""

from tests.conftest import auth, create_license, create_product, register, settle


def activate(client, license, hwid):
    return client.post("/api/client/activate", json={"license_key": license["license_key"], "hwid": hwid,
                                                     "product_id": license["product_id"]})


def test_dashboard_counts_the_vendors_own_things(client, vendor_token, runtime):
    product = create_product(client, vendor_token)
    licenses = [create_license(client, vendor_token, product["id"], max_uses=2) for _ in range(3)]
    client.put(f"/api/licenses/{licenses[0]['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    activate(client, licenses[1], "pc-1")
    activate(client, licenses[1], "pc-2")
    activate(client, licenses[0], "pc-3")  # refused: suspended, so not an activation
    other = register(client, "other@example.com")
    create_license(client, other, create_product(client, other)["id"])
    settle(runtime)

    data = client.get("/api/stats/dashboard", headers=auth(vendor_token)).json()["data"]
    assert (data["total_products"], data["total_licenses"], data["active_licenses"]) == (1, 3, 2)
    assert data["total_activations"] == 2
    assert [row["type"] for row in data["recent_activity"][:3]] == [
        "device_activated", "device_activated", "license_suspended"]


def test_product_stats_split_by_status_and_activation_window(client, vendor_token, runtime, clock):
    product = create_product(client, vendor_token)
    old = create_license(client, vendor_token, product["id"], expires_at="2026-06-01T00:00:00Z")
    fresh = create_license(client, vendor_token, product["id"], type="lifetime", max_uses=5)
    activate(client, old, "pc-0")
    clock.advance(days=10)
    activate(client, fresh, "pc-1")
    clock.advance(days=150)  # `old` has expired by now
    activate(client, fresh, "pc-2")
    settle(runtime)
    token = client.post("/api/auth/login", json={"email": "vendor@example.com", "password": "secret123"}).json()[
        "data"]["token"]

    data = client.get(f"/api/stats/products/{product['id']}", headers=auth(token)).json()["data"]
    assert data == {"total_licenses": 2, "active_licenses": 1, "expired_licenses": 1, "suspended_licenses": 0,
                    "activations_today": 1, "activations_this_week": 1, "activations_this_month": 1}


def test_another_vendors_product_stats_are_not_found(client, vendor_token):
    other = register(client, "other@example.com")
    product = create_product(client, other)
    response = client.get(f"/api/stats/products/{product['id']}", headers=auth(vendor_token))
    assert (response.status_code, response.json()["error_code"]) == (404, "PRODUCT_NOT_FOUND")
