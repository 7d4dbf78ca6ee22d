"""Notifications arise from events: bulk issues, suspensions, expiries, deletions."""

from workers.expiry import sweep_expired
from tests.conftest import auth, create_license, create_product, register


def notifications(client, token, query=""):
    return client.get(f"/api/notifications{query}", headers=auth(token)).json()["data"]


def test_a_bulk_issue_is_one_notification_with_its_count(client, vendor_token):
    product = create_product(client, vendor_token)
    client.post("/api/licenses/bulk", json={"product_id": product["id"], "count": 10}, headers=auth(vendor_token))
    listed = notifications(client, vendor_token)
    assert [(n["type"], n["message"], n["is_read"]) for n in listed] == [
        ("licenses_created", "10 licenses created", False)]


def test_suspension_notifies_with_the_key(client, vendor_token):
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"])
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    listed = notifications(client, vendor_token)
    assert listed[0]["type"] == "license_suspended" and license["license_key"] in listed[0]["message"]
    assert {"id", "type", "title", "message", "is_read", "created_at"} <= set(listed[0])


def test_reading_lowers_the_unread_count_and_read_all_clears_it(client, vendor_token):
    product = create_product(client, vendor_token)
    for _ in range(3):
        license = create_license(client, vendor_token, product["id"])
        client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))

    def unread():
        return client.get("/api/notifications/unread-count", headers=auth(vendor_token)).json()["data"]["count"]

    first = notifications(client, vendor_token)[0]
    marked = client.post(f"/api/notifications/{first['id']}/read", headers=auth(vendor_token)).json()["data"]
    assert marked["is_read"] is True and unread() == 2
    assert [n["id"] for n in notifications(client, vendor_token, "?unread=true")] == [
        n["id"] for n in notifications(client, vendor_token)[1:]]
    assert client.post("/api/notifications/read-all", headers=auth(vendor_token)).json()["data"]["count"] == 0
    assert unread() == 0


def test_another_accounts_notification_cannot_be_read_or_marked(client, vendor_token):
    other = register(client, "other@example.com")
    product = create_product(client, other)
    client.post("/api/licenses/bulk", json={"product_id": product["id"], "count": 2}, headers=auth(other))
    theirs = notifications(client, other)[0]
    response = client.post(f"/api/notifications/{theirs['id']}/read", headers=auth(vendor_token))
    assert (response.status_code, response.json()["error_code"]) == (404, "NOTIFICATION_NOT_FOUND")
    assert notifications(client, vendor_token) == []
    assert notifications(client, other)[0]["is_read"] is False


def test_expiry_is_swept_once_and_notified(client, vendor_token, runtime, clock):
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"], expires_at="2026-01-16T12:00:00Z")
    clock.advance(days=2)
    assert sweep_expired(runtime.ledger, runtime.store, clock()) == 1
    runtime.wait_for(runtime.ledger.position())
    assert sweep_expired(runtime.ledger, runtime.store, clock()) == 0
    token = client.post("/api/auth/login", json={"email": "vendor@example.com", "password": "secret123"}).json()[
        "data"]["token"]
    expired = [n for n in notifications(client, token) if n["type"] == "license_expired"]
    assert len(expired) == 1 and license["license_key"] in expired[0]["message"]
    # Check a renewed license can lapse (and be notified) again.
    client.put(f"/api/licenses/{license['id']}", json={"expires_at": "2026-01-20T12:00:00Z"}, headers=auth(token))
    clock.advance(days=3)
    assert sweep_expired(runtime.ledger, runtime.store, clock()) == 1
