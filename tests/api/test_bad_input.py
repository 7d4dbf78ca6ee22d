"""Bad input: every malformed request answers 4xx in the error envelope and writes no event."""

import pytest

from tests.conftest import auth, create_product


@pytest.fixture
def product(client, vendor_token):
    return create_product(client, vendor_token)


def bad_license_bodies(product_id):
    return [
        ("POST", "/api/licenses", {"product_id": product_id, "max_uses": "one"}),
        ("POST", "/api/licenses", {"max_uses": 1}),
        ("POST", "/api/licenses", {"product_id": product_id, "type": "forever"}),
        ("POST", "/api/licenses", {"product_id": "not-a-uuid"}),
        ("POST", "/api/licenses", {"product_id": product_id, "max_uses": -1}),
        ("POST", "/api/licenses", {"product_id": product_id, "max_uses": 0}),
        ("POST", "/api/licenses", {"product_id": product_id, "expires_at": "next tuesday"}),
        ("POST", "/api/licenses", {"product_id": product_id, "expires_at": "2026-12-31T23:59:59"}),
        ("POST", "/api/licenses", {"product_id": product_id, "hwid_locked": "yes"}),
        ("POST", "/api/licenses", {"product_id": product_id, "metadata": ["not", "an", "object"]}),
        ("POST", "/api/licenses", {"product_id": product_id, "surprise": True}),
        ("POST", "/api/licenses", [1, 2, 3]),
        ("POST", "/api/licenses/bulk", {"product_id": product_id, "count": 101}),
        ("POST", "/api/licenses/bulk", {"product_id": product_id, "count": 0}),
        ("POST", "/api/products", {"description": "no name"}),
        ("POST", "/api/products", {"name": ""}),
        ("PUT", "/api/products/not-a-uuid", {"name": "x"}),
        ("GET", "/api/licenses/not-a-uuid", None),
        ("GET", "/api/licenses?status=deleted", None),
        ("GET", "/api/licenses?page=0", None),
        ("GET", "/api/licenses?limit=1000", None),
    ]


def test_bad_requests_answer_4xx_in_the_envelope_and_write_nothing(client, vendor_token, product, runtime):
    before = runtime.ledger.position()
    for method, path, body in bad_license_bodies(product["id"]):
        response = client.request(method, path, json=body, headers=auth(vendor_token))
        envelope = response.json()
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert envelope["success"] is False and envelope["message"] and envelope["error_code"], envelope
    assert runtime.ledger.position() == before


def test_malformed_json_is_a_400(client, vendor_token):
    response = client.post("/api/products", content=b'{"name": "x"', headers={
        **auth(vendor_token), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_three_megabyte_body_is_a_413(client, vendor_token, runtime):
    before = runtime.ledger.position()
    body = b'{"name": "' + b"x" * 3_000_000 + b'"}'
    response = client.post("/api/products", content=body, headers={
        **auth(vendor_token), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"success": False, "message": "Request Entity Too Large",
                                "error_code": "PAYLOAD_TOO_LARGE"}
    assert runtime.ledger.position() == before


def test_unknown_route_and_method_answer_in_the_envelope(client, vendor_token):
    missing = client.get("/api/nothing-here", headers=auth(vendor_token))
    wrong_method = client.patch("/api/products", headers=auth(vendor_token))
    assert (missing.status_code, missing.json()["success"]) == (404, False)
    assert (wrong_method.status_code, wrong_method.json()["error_code"]) == (405, "METHOD_NOT_ALLOWED")
