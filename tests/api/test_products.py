"""Products: CRUD, secret rotation, secrets shown to their owner only."""

import msgspec

from domain.product import ClientCompatibility
from tests.conftest import auth, create_product


def test_vendor_creates_lists_and_updates_a_product(client, vendor_token):
    product = create_product(client, vendor_token, name="My App", description="Mine")
    updated = client.put(f"/api/products/{product['id']}", json={"name": "Renamed", "is_active": False},
                         headers=auth(vendor_token)).json()["data"]
    listed = client.get("/api/products", headers=auth(vendor_token)).json()["data"]

    # Check the spec's fields, the update, and the read-your-writes list.
    assert {"id", "name", "description", "secret_key", "is_active", "created_at"} <= set(product)
    assert (updated["name"], updated["description"], updated["is_active"]) == ("Renamed", "Mine", False)
    assert [p["name"] for p in listed] == ["Renamed"]


def test_regenerated_secret_replaces_the_old_one(client, vendor_token, runtime):
    product = create_product(client, vendor_token)
    response = client.post(f"/api/products/{product['id']}/regenerate-secret", headers=auth(vendor_token))
    new_secret = response.json()["data"]["secret_key"]

    assert new_secret.startswith("sk_live_") and new_secret != product["secret_key"]
    assert client.get(f"/api/products/{product['id']}", headers=auth(vendor_token)).json()["data"][
        "secret_key"] == new_secret
    # Check the client side now knows the product only by its new secret.
    assert str(runtime.ledger.find_product_by_secret(new_secret).id) == product["id"]


def test_secret_is_never_stored_in_clear(client, vendor_token, runtime):
    product = create_product(client, vendor_token)
    notifications = runtime.ledger.recorder.select_notifications(start=0, limit=1000)
    stored = b"".join(n.state for n in notifications)
    assert product["secret_key"].encode() not in stored


def test_admin_sees_another_vendors_product_but_not_its_secret(client, admin_token, vendor_token):
    product = create_product(client, vendor_token)
    seen = client.get(f"/api/products/{product['id']}", headers=auth(admin_token))
    assert seen.status_code == 200
    assert "secret_key" not in seen.json()["data"]


def test_deleted_product_is_gone_with_its_licenses(client, vendor_token):
    product = create_product(client, vendor_token)
    client.post("/api/licenses", json={"product_id": product["id"]}, headers=auth(vendor_token))
    deleted = client.delete(f"/api/products/{product['id']}", headers=auth(vendor_token))

    assert deleted.status_code == 200
    assert client.get(f"/api/products/{product['id']}", headers=auth(vendor_token)).status_code == 404
    assert client.get("/api/licenses", headers=auth(vendor_token)).json()["data"]["licenses"] == []
    again = client.delete(f"/api/products/{product['id']}", headers=auth(vendor_token))
    assert again.status_code == 404 and again.json()["error_code"] == "PRODUCT_NOT_FOUND"


def test_product_may_choose_ed25519_signatures(client, vendor_token):
    product = create_product(client, vendor_token, signing_algorithm="ed25519")
    assert product["signing_algorithm"] == "ed25519"
    bad = client.post("/api/products", json={"name": "x", "signing_algorithm": "md5"}, headers=auth(vendor_token))
    assert bad.status_code == 400


def test_client_compatibility_is_set_on_create_and_update_and_shown(client, vendor_token, runtime):
    default = create_product(client, vendor_token)
    chosen = create_product(client, vendor_token, name="Legacy", client_compatibility="licensecm-sdk")
    switched = client.put(f"/api/products/{default['id']}", json={"client_compatibility": "licensecm-sdk"},
                          headers=auth(vendor_token)).json()["data"]
    back = client.put(f"/api/products/{chosen['id']}", json={"client_compatibility": "keyledger"},
                      headers=auth(vendor_token)).json()["data"]
    bad = client.put(f"/api/products/{chosen['id']}", json={"client_compatibility": "licensecm"},
                     headers=auth(vendor_token))

    assert (default["client_compatibility"], chosen["client_compatibility"]) == ("keyledger", "licensecm-sdk")
    assert (switched["client_compatibility"], back["client_compatibility"]) == ("licensecm-sdk", "keyledger")
    assert bad.status_code == 400
    # Check each change is its own specific event, not a generic update.
    topics = [n.topic for n in runtime.ledger.recorder.select_notifications(start=0, limit=1000)]
    assert sum(topic.endswith("Product.ClientCompatibilityChanged") for topic in topics) == 3


def test_server_setting_chooses_the_client_compatibility_of_new_products(settings, clock):
    from litestar.testing import TestClient

    from api.app import create_app
    from keyledger.wiring import build_runtime
    from tests.conftest import register

    settings = msgspec.structs.replace(settings, client_compatibility=ClientCompatibility.LICENSECM_SDK)
    runtime = build_runtime(settings, clock=clock)
    with TestClient(app=create_app(runtime)) as client:
        token = register(client, "v@example.com")
        implied = create_product(client, token)
        explicit = create_product(client, token, name="Own", client_compatibility="keyledger")

    assert (implied["client_compatibility"], explicit["client_compatibility"]) == ("licensecm-sdk", "keyledger")
