"""Bodies must be declared as JSON (415 otherwise, on every route and on the direct way in); 405 names what
the path accepts (api/media.py)."""

import json
import re

import pytest
from litestar.routes import HTTPRoute

from tests.api.test_direct_validation import post_raw
from tests.conftest import auth, create_license, create_product

NOT_JSON = ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data",
            "application/xml", "text/json", "application/jsonp", None]
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
              "application/vnd.api+json"]


def json_body_routes(app):
    """(method, path) of every route whose handler reads a JSON body, path parameters left as `{name:type}`."""
    return sorted((method, route.path)
                  for route in app.routes if isinstance(route, HTTPRoute)
                  for handler in route.route_handlers if "data" in handler.parsed_fn_signature.parameters
                  for method in handler.http_methods)


def filled(path, ids):
    """The path with each parameter replaced by a real id of its kind (any id will do for the others)."""
    return re.sub(r"\{(\w+):\w+\}", lambda match: ids.get(match[1], "3f2a6c1e-0000-4000-8000-000000000000"), path)


def post(client, method, path, content_type, body, token=None):
    headers = {**({"Content-Type": content_type} if content_type else {}), **(auth(token) if token else {})}
    return client.request(method, path, content=body, headers=headers)


@pytest.fixture
def ids(client, admin_token, vendor_token):
    product = create_product(client, admin_token)
    license = create_license(client, admin_token, product["id"])
    user_id = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]["id"]
    return {"product_id": product["id"], "license_id": license["id"], "user_id": user_id, "license": license}


def test_every_route_reading_json_refuses_any_other_body_and_writes_nothing(client, runtime, admin_token, ids):
    routes = json_body_routes(client.app)
    assert ("POST", "/api/client/validate") in routes and ("PUT", "/api/admin/users/{user_id:uuid}") in routes
    position, calls = runtime.ledger.position(), runtime.ledger.calls.store.head()
    body = json.dumps({"email": "x@example.com", "password": "secret123", "name": "x",
                       "license_key": ids["license"]["license_key"], "hwid": "pc", "product_id": ids["product_id"]})

    for method, path in routes:
        for content_type in NOT_JSON:
            response = post(client, method, filled(path, ids), content_type, body, admin_token)

            assert response.status_code == 415, (method, path, content_type, response.text)
            assert response.json() == {"success": False, "error_code": "UNSUPPORTED_MEDIA_TYPE",
                                       "message": "The body must be JSON (Content-Type: application/json)"}
    # Check nothing was written: no event, no client call recorded.
    assert (runtime.ledger.position(), runtime.ledger.calls.store.head()) == (position, calls)


@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_json_in_any_spelling_is_accepted(client, content_type):
    body = json.dumps({"email": "john@example.com", "password": "secret123"}).encode()

    response = post(client, "POST", "/api/auth/register", content_type, body)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("content_type", NOT_JSON)
def test_the_direct_way_in_answers_no_body_of_another_type(client, runtime, license, content_type):
    body = json.dumps({"license_key": license["license_key"], "hwid": "pc", "product_id": license["product_id"]})
    calls = runtime.ledger.calls.store.head()

    response = post(client, "POST", "/api/client/validate", content_type, body)

    # Check a body a page could post without a preflight is neither answered nor recorded.
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert runtime.ledger.calls.store.head() == calls


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_the_direct_way_in_still_answers_what_the_sdks_send(client, license, content_type, monkeypatch):
    import api.controllers.client as client_controller

    body = {"license_key": license["license_key"], "hwid": "pc", "product_id": license["product_id"]}
    assert client.post("/api/client/activate", json=body).status_code == 200
    monkeypatch.setattr(client_controller, "parse_body_async", None)  # the handler would fail: only direct answers

    status, _, answer = post_raw(client, "/api/client/validate", [json.dumps(body).encode()],
                                 content_type=content_type)

    assert status == 200 and answer["data"]["valid"] is True


def test_routes_without_a_body_still_take_a_bodiless_post(client, vendor_token, product):
    refreshed = client.post("/api/auth/refresh", headers=auth(vendor_token))
    token = refreshed.json()["data"]["token"]
    regenerated = client.post(f"/api/products/{product['id']}/regenerate-secret", headers=auth(token))
    read_all = client.post("/api/notifications/read-all", headers=auth(token))

    assert (refreshed.status_code, regenerated.status_code, read_all.status_code) == (200, 200, 200)


@pytest.mark.parametrize("method, path, allowed", [
    ("GET", "/api/client/validate", {"POST"}),
    ("DELETE", "/api/auth/me", {"GET"}),
    ("PATCH", "/api/products", {"GET", "POST"}),
    ("POST", "/api/licenses/3f2a6c1e-0000-4000-8000-000000000000", {"GET", "PUT", "DELETE"}),
])
def test_a_method_the_path_does_not_take_is_405_naming_those_it_does(client, method, path, allowed):
    response = client.request(method, path)

    assert response.status_code == 405
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert set(response.headers["allow"].split(", ")) - {"OPTIONS", "HEAD"} == allowed
