"""License history: every event in store order with position and hash, sessions and calls on request, pages,
and deleted licenses still answering their owner and admins (history and logs)."""

from __future__ import annotations

import pytest

from tests.conftest import auth, create_license, create_product, register

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def story(client, clock, vendor_token):
    """A license issued, activated on a device (a session and a call), suspended, and given max_uses 3."""
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"])
    activated = client.post("/api/client/activate", json={"license_key": license["license_key"], "hwid": "dev-1",
                                                           "product_id": product["id"]})
    assert activated.status_code == 200
    clock.advance(minutes=5)
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    client.put(f"/api/licenses/{license['id']}", json={"max_uses": 3}, headers=auth(vendor_token))
    return {"product": product, "license": license}


def history(client, token, license_id, **params):
    return client.get(f"/api/licenses/{license_id}/history", params=params, headers=auth(token))


def test_history_lists_every_event_in_store_order_with_what_changed(client, vendor_token, story):
    data = history(client, vendor_token, story["license"]["id"]).json()["data"]

    types = [event["type"] for event in data["events"]]
    assert types[0] == "License.Issued" and "License.Suspended" in types and "License.ActivatedOnDevice" in types
    positions = [event["position"] for event in data["events"]]
    assert positions == sorted(positions) and [e["version"] for e in data["events"]] == list(range(1, len(types) + 1))
    assert {"max_uses": 3} .items() <= data["events"][-1]["changes"].items()
    assert all(len(event["hash"]) == 64 for event in data["events"])
    assert data["calls"] == [] and data["deleted"] is False


def test_history_never_shows_a_secret(client, vendor_token, story):
    data = history(client, vendor_token, story["license"]["id"], include="sessions,calls").json()["data"]

    text = str(data).lower()
    assert "token" not in text and "secret" not in text and "password" not in text


def test_history_includes_sessions_and_calls_on_request(client, vendor_token, story):
    data = history(client, vendor_token, story["license"]["id"], include="sessions,calls").json()["data"]

    assert any(event["type"].startswith("Session.") for event in data["events"])
    positions = [event["position"] for event in data["events"]]
    assert positions == sorted(positions)
    assert [(call["action"], call["success"], call["hwid"]) for call in data["calls"]] == [("activation", True, "dev-1")]
    assert data["pagination"]["calls_total"] == 1


def test_history_pages(client, vendor_token, story):
    whole = history(client, vendor_token, story["license"]["id"]).json()["data"]
    pages = [history(client, vendor_token, story["license"]["id"], page=page, limit=2).json()["data"]
             for page in (1, 2, 3)]

    assert pages[0]["pagination"]["total"] == len(whole["events"]) and pages[0]["pagination"]["pages"] >= 2
    assert [e for page in pages for e in page["events"]] == whole["events"][:6]


def test_deleted_license_history_and_logs_answer_its_owner_and_admins(client, vendor_token, admin_token, story):
    license_id = story["license"]["id"]
    client.delete(f"/api/licenses/{license_id}", headers=auth(vendor_token))

    for token in (vendor_token, admin_token):
        data = history(client, token, license_id).json()["data"]
        assert data["deleted"] is True and data["events"][-1]["type"] == "License.Deleted"
        logs = client.get(f"/api/licenses/{license_id}/logs", headers=auth(token))
        assert logs.status_code == 200 and logs.json()["data"]["logs"]


def test_another_vendors_license_history_and_logs_are_not_found(client, story):
    other = register(client, "other@example.com")
    license_id = story["license"]["id"]

    assert history(client, other, license_id).status_code == 404
    assert client.get(f"/api/licenses/{license_id}/logs", headers=auth(other)).status_code == 404


def test_unknown_license_and_bad_include_are_refused(client, vendor_token, story):
    unknown = history(client, vendor_token, story["product"]["id"])
    bad = history(client, vendor_token, story["license"]["id"], include="everything")

    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "LICENSE_NOT_FOUND")
    assert (bad.status_code, bad.json()["error_code"]) == (400, "VALIDATION_ERROR")
