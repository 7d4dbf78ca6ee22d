"""Licenses: create, bulk, filters, pagination, update, suspend, reset HWID, delete, logs."""

from tests.conftest import auth, create_license, create_product


def test_license_has_the_specs_fields(client, vendor_token):
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"], expires_at="2026-12-31T23:59:59Z",
                             metadata={"plan": "pro", "features": ["a", "b"]})
    expected = {"id", "license_key", "product_id", "type", "status", "hwid", "hwid_locked", "max_uses",
                "current_uses", "expires_at", "metadata", "created_at"}
    assert expected <= set(license)
    assert license["metadata"] == {"plan": "pro", "features": ["a", "b"]}
    assert license["expires_at"].startswith("2026-12-31T23:59:59")
    assert (license["current_uses"], license["hwid"]) == (0, None)


def test_bulk_issues_distinct_keys_in_one_go(client, vendor_token):
    product = create_product(client, vendor_token)
    response = client.post("/api/licenses/bulk", json={"product_id": product["id"], "count": 10, "type": "trial"},
                           headers=auth(vendor_token))
    data = response.json()["data"]
    assert response.status_code == 201
    assert data["created"] == 10
    assert len({license["license_key"] for license in data["licenses"]}) == 10
    listed = client.get("/api/licenses?limit=100", headers=auth(vendor_token)).json()["data"]
    assert listed["pagination"]["total"] == 10


def test_bulk_count_above_100_is_refused_and_writes_nothing(client, vendor_token):
    product = create_product(client, vendor_token)
    response = client.post("/api/licenses/bulk", json={"product_id": product["id"], "count": 101},
                           headers=auth(vendor_token))
    assert response.status_code == 400
    assert client.get("/api/licenses", headers=auth(vendor_token)).json()["data"]["pagination"]["total"] == 0


def test_filters_and_pagination(client, vendor_token, clock):
    one, two = create_product(client, vendor_token, "One"), create_product(client, vendor_token, "Two")
    for _ in range(3):
        create_license(client, vendor_token, one["id"])
    trial = create_license(client, vendor_token, two["id"], type="trial")
    suspended = create_license(client, vendor_token, two["id"])
    client.put(f"/api/licenses/{suspended['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    clock.advance(days=15)  # the trial (14 days by default) has lapsed, and so has the 24 h token
    token = client.post("/api/auth/login", json={"email": "vendor@example.com", "password": "secret123"}).json()[
        "data"]["token"]

    def keys(query):
        data = client.get(f"/api/licenses?{query}", headers=auth(token)).json()["data"]
        return {row["id"] for row in data["licenses"]}, data["pagination"]

    assert len(keys(f"product_id={one['id']}")[0]) == 3
    assert keys("status=expired")[0] == {trial["id"]}
    assert keys("status=suspended")[0] == {suspended["id"]}
    assert len(keys("status=active")[0]) == 3
    assert keys("type=trial")[0] == {trial["id"]}
    page_two, pagination = keys("limit=2&page=2")
    assert len(page_two) == 2 and pagination == {"page": 2, "limit": 2, "total": 5, "pages": 3}


def test_update_applies_the_specs_fields(client, vendor_token):
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"])
    body = {"status": "suspended", "max_uses": 2, "hwid_locked": False, "expires_at": "2027-12-31T23:59:59Z",
            "metadata": {"note": "Updated"}}
    updated = client.put(f"/api/licenses/{license['id']}", json=body, headers=auth(vendor_token)).json()["data"]
    assert (updated["status"], updated["max_uses"], updated["hwid_locked"]) == ("suspended", 2, False)
    assert updated["metadata"] == {"note": "Updated"}
    reinstated = client.put(f"/api/licenses/{license['id']}", json={"status": "active"}, headers=auth(vendor_token))
    assert reinstated.json()["data"]["status"] == "active"


def test_expiry_can_be_cleared_with_null_and_left_alone_when_absent(client, vendor_token):
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"], expires_at="2026-12-31T23:59:59Z")
    kept = client.put(f"/api/licenses/{license['id']}", json={"max_uses": 3}, headers=auth(vendor_token))
    cleared = client.put(f"/api/licenses/{license['id']}", json={"expires_at": None}, headers=auth(vendor_token))
    assert kept.json()["data"]["expires_at"].startswith("2026-12-31")
    assert cleared.json()["data"]["expires_at"] is None


def test_lifetime_license_cannot_expire(client, vendor_token):
    product = create_product(client, vendor_token)
    response = client.post("/api/licenses", json={"product_id": product["id"], "type": "lifetime",
                                                  "expires_at": "2027-01-01T00:00:00Z"}, headers=auth(vendor_token))
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_reset_hwid_delete_and_logs(client, vendor_token):
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"])
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    reset = client.post(f"/api/licenses/{license['id']}/reset-hwid", headers=auth(vendor_token))
    logs = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(vendor_token)).json()["data"]

    assert reset.status_code == 200 and reset.json()["data"]["hwid"] is None
    assert [log["action"] for log in logs["logs"]] == ["hwid_reset", "suspended", "created"]
    assert {"id", "action", "ip_address", "hwid", "user_agent", "created_at"} <= set(logs["logs"][0])
    assert logs["pagination"]["total"] == 3

    assert client.delete(f"/api/licenses/{license['id']}", headers=auth(vendor_token)).status_code == 200
    gone = client.get(f"/api/licenses/{license['id']}", headers=auth(vendor_token))
    assert gone.status_code == 404 and gone.json()["error_code"] == "LICENSE_NOT_FOUND"
    assert client.delete(f"/api/licenses/{license['id']}", headers=auth(vendor_token)).status_code == 404


def test_license_for_an_unknown_product_is_refused(client, vendor_token):
    response = client.post("/api/licenses", json={"product_id": "00000000-0000-4000-8000-000000000000"},
                           headers=auth(vendor_token))
    assert response.status_code == 404 and response.json()["error_code"] == "PRODUCT_NOT_FOUND"
