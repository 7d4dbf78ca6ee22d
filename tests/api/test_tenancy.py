"""Tenancy: another vendor's ids answer 404, exactly as ids that never existed."""

import pytest

from tests.conftest import auth, create_license, create_product, register


@pytest.fixture
def other_vendor(client, vendor_token):
    """A second vendor's product and license, and the first vendor's token to probe them with."""
    other_token = register(client, "other@example.com")
    product = create_product(client, other_token)
    license = create_license(client, other_token, product["id"])
    return vendor_token, product, license


def test_another_vendors_product_is_not_found(client, other_vendor):
    token, product, _ = other_vendor
    requests = [
        ("GET", f"/api/products/{product['id']}", None),
        ("PUT", f"/api/products/{product['id']}", {"name": "stolen"}),
        ("DELETE", f"/api/products/{product['id']}", None),
        ("POST", f"/api/products/{product['id']}/regenerate-secret", None),
        ("POST", "/api/licenses", {"product_id": product["id"]}),
        ("POST", "/api/licenses/bulk", {"product_id": product["id"], "count": 2}),
    ]
    for method, path, body in requests:
        response = client.request(method, path, json=body, headers=auth(token))
        assert (response.status_code, response.json()["error_code"]) == (404, "PRODUCT_NOT_FOUND"), path


def test_another_vendors_license_is_not_found(client, other_vendor):
    token, _, license = other_vendor
    requests = [
        ("GET", f"/api/licenses/{license['id']}", None),
        ("PUT", f"/api/licenses/{license['id']}", {"status": "suspended"}),
        ("DELETE", f"/api/licenses/{license['id']}", None),
        ("POST", f"/api/licenses/{license['id']}/reset-hwid", None),
        ("GET", f"/api/licenses/{license['id']}/logs", None),
    ]
    for method, path, body in requests:
        response = client.request(method, path, json=body, headers=auth(token))
        assert (response.status_code, response.json()["error_code"]) == (404, "LICENSE_NOT_FOUND"), path


def test_lists_show_only_the_vendors_own_things(client, other_vendor):
    token, product, _ = other_vendor
    assert client.get("/api/products", headers=auth(token)).json()["data"] == []
    listed = client.get(f"/api/licenses?product_id={product['id']}", headers=auth(token)).json()["data"]
    assert listed["licenses"] == [] and listed["pagination"]["total"] == 0


def test_probing_changed_nothing(client, other_vendor, runtime):
    token, product, license = other_vendor
    before = runtime.ledger.position()
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(token))
    client.delete(f"/api/products/{product['id']}", headers=auth(token))
    assert runtime.ledger.position() == before
