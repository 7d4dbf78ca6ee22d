"""State at any time: a license or product as it answered then, with the position it reflects."""

from __future__ import annotations

import pytest

from tests.conftest import auth, create_license, create_product, register

pytestmark = pytest.mark.usefixtures("backend")


def at(clock):
    return clock().isoformat().replace("+00:00", "Z")


@pytest.fixture
def story(client, clock, vendor_token):
    """A product and a license issued at 12:00, suspended at 13:00, given max_uses 5 at 14:00."""
    product = create_product(client, vendor_token, name="Before")
    license = create_license(client, vendor_token, product["id"])
    times = {"issued": at(clock)}
    clock.advance(hours=1)
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    client.put(f"/api/products/{product['id']}", json={"name": "After"}, headers=auth(vendor_token))
    times["suspended"] = at(clock)
    clock.advance(hours=1)
    client.put(f"/api/licenses/{license['id']}", json={"max_uses": 5}, headers=auth(vendor_token))
    times["widened"] = at(clock)
    clock.advance(hours=1)
    return {"product": product, "license": license, "times": times}


def state(client, token, kind, item_id, when):
    return client.get(f"/api/{kind}/{item_id}/state", params={"at": when}, headers=auth(token))


def test_license_state_answers_as_it_was_at_each_time(client, vendor_token, story):
    license, times = story["license"], story["times"]

    then = [state(client, vendor_token, "licenses", license["id"], times[name]).json()["data"]
            for name in ("issued", "suspended", "widened")]

    assert [(s["status"], s["max_uses"]) for s in then] == [("active", 1), ("suspended", 1), ("suspended", 5)]
    # Check each reflects a later position of the store than the one before
    assert 0 < then[0]["position"] < then[1]["position"] < then[2]["position"]


def test_license_state_now_has_the_shape_of_the_license(client, vendor_token, story, clock):
    license = story["license"]

    now = state(client, vendor_token, "licenses", license["id"], at(clock)).json()["data"]
    current = client.get(f"/api/licenses/{license['id']}", headers=auth(vendor_token)).json()["data"]

    assert {k: v for k, v in now.items() if k not in ("position", "at")} == current


def test_license_state_before_it_existed_is_not_found(client, vendor_token, story):
    response = state(client, vendor_token, "licenses", story["license"]["id"], "2020-01-01T00:00:00Z")

    assert response.status_code == 404
    assert response.json()["error_code"] == "LICENSE_NOT_FOUND"


def test_another_vendors_license_and_product_state_are_not_found(client, story):
    other = register(client, "other@example.com")

    for kind, item in (("licenses", story["license"]), ("products", story["product"])):
        response = state(client, other, kind, item["id"], story["times"]["widened"])
        assert response.status_code == 404, kind


def test_admin_sees_any_license_state(client, admin_token, story):
    response = state(client, admin_token, "licenses", story["license"]["id"], story["times"]["issued"])

    assert response.status_code == 200


@pytest.mark.parametrize("when", ["yesterday", "2026-13-01T00:00:00Z", ""])
def test_a_time_that_does_not_parse_is_refused(client, vendor_token, story, when):
    response = state(client, vendor_token, "licenses", story["license"]["id"], when)

    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_deleted_license_state_before_its_deletion_still_answers(client, vendor_token, story, clock):
    license = story["license"]
    client.delete(f"/api/licenses/{license['id']}", headers=auth(vendor_token))

    before = state(client, vendor_token, "licenses", license["id"], story["times"]["widened"])
    after = state(client, vendor_token, "licenses", license["id"], at(clock))

    assert before.status_code == 200 and before.json()["data"]["max_uses"] == 5
    assert after.status_code == 404


def test_product_state_answers_as_it_was_without_its_secret(client, vendor_token, story):
    product, times = story["product"], story["times"]

    first = state(client, vendor_token, "products", product["id"], times["issued"]).json()["data"]
    later = state(client, vendor_token, "products", product["id"], times["widened"]).json()["data"]

    assert (first["name"], later["name"]) == ("Before", "After")
    assert "secret_key" not in first and first["position"] < later["position"]
    assert state(client, vendor_token, "products", product["id"], "2020-01-01").status_code == 404
