"""`POST /api/client/validate` has two ways in (api/direct.py): a plain body of the schema is answered
before routing, everything else by the documented handler. A client must not be able to
tell them apart: the same request gets the same answer, refusal and record whichever way it went.

The handler is reached here by sending the body in two parts, which the direct way passes on."""

import json
from typing import Any

import pytest

import api.controllers.client as client_controller
from tests.api.test_client import verified
from tests.conftest import auth, create_license, create_product

UNSIGNED_EACH_TIME = {"timestamp", "signature"}


def post_raw(client, path: str, parts: list[bytes], headers: dict[str, str] | None = None,
             content_type: str = "application/json", ip: str = "203.0.113.9") -> tuple[int, dict, Any]:
    """POST `parts` as the ASGI request's body messages, from `ip`, straight to the app on the test client's loop."""
    messages = [{"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
                for index, part in enumerate(parts)]
    sent: list[dict[str, Any]] = []
    length = sum(map(len, parts))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "client": (ip, 50000), "server": ("testserver", 80), "state": {},
             "headers": [(b"host", b"testserver"), (b"content-type", content_type.encode()),
                         (b"content-length", str(length).encode()), (b"user-agent", b"sdk/1.0"),
                         *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items())]}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await client.app(scope, receive, send)

    client.blocking_portal.call(call)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], {name.decode(): value.decode() for name, value in start["headers"]}, json.loads(body)


@pytest.fixture
def handled(monkeypatch) -> list[int]:
    """One entry per request the documented handler parsed (the direct way never calls it)."""
    calls: list[int] = []
    parse = client_controller.parse_body_async

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await parse(*args, **kwargs)

    monkeypatch.setattr(client_controller, "parse_body_async", counting)
    return calls


def both_ways(client, body: bytes, handled: list[int]) -> tuple[tuple[int, dict, Any], tuple[int, dict, Any]]:
    whole = post_raw(client, "/api/client/validate", [body])
    assert handled == [], "a whole plain body of the schema is answered without the handler"
    parted = post_raw(client, "/api/client/validate", [body[:7], body[7:]])
    assert handled == [1], "a body in parts goes to the handler"
    handled.clear()
    return whole, parted


def logs(client, token: str, license: dict[str, Any]) -> list[tuple[Any, ...]]:
    found = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(token)).json()["data"]["logs"]
    return [(log["action"], log["success"], log["error_code"], log["hwid"], log["ip_address"], log["user_agent"])
            for log in found]


@pytest.mark.parametrize("algorithm", ["rsa-4096", "ed25519"])
def test_a_validation_answers_alike_on_both_paths(client, vendor_token, handled, algorithm):
    product = create_product(client, vendor_token, signing_algorithm=algorithm)
    license = create_license(client, vendor_token, product["id"])
    body = {"license_key": license["license_key"], "hwid": "device-1", "product_id": product["id"], "nonce": "n-1"}
    assert client.post("/api/client/activate", json=body).status_code == 200

    (status, headers, whole), (parted_status, parted_headers, parted) = both_ways(
        client, json.dumps(body).encode(), handled)

    assert status == parted_status == 200
    assert headers["content-type"] == parted_headers["content-type"] == "application/json"
    assert whole["data"]["valid"] is True and whole["data"]["nonce"] == "n-1"
    assert {k: v for k, v in whole["data"].items() if k not in UNSIGNED_EACH_TIME} == {
        k: v for k, v in parted["data"].items() if k not in UNSIGNED_EACH_TIME}
    assert verified(client, whole["data"], product["id"]) and verified(client, parted["data"], product["id"])
    assert logs(client, vendor_token, license)[:2] == [("validation", True, None, "device-1", "203.0.113.9",
                                                        "sdk/1.0")] * 2


@pytest.mark.parametrize("case", ["wrong device", "unknown key", "other product", "suspended"])
def test_a_refusal_answers_and_is_recorded_alike_on_both_paths(client, vendor_token, license, handled, case):
    body = {"license_key": license["license_key"], "hwid": "device-1", "product_id": license["product_id"]}
    assert client.post("/api/client/activate", json=body).status_code == 200
    if case == "wrong device":
        body["hwid"] = "device-2"
    elif case == "unknown key":
        body["license_key"] = "KL-NOPE-NOPE-NOPE"
    elif case == "other product":
        body["product_id"] = create_product(client, vendor_token, name="Other")["id"]
    else:
        suspended = client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
        assert suspended.status_code == 200

    (status, _, whole), (parted_status, _, parted) = both_ways(client, json.dumps(body).encode(), handled)

    assert status == parted_status and 400 <= status < 500
    assert whole == parted and whole["success"] is False and whole["error_code"]
    if case in ("wrong device", "suspended"):  # refusals of a known license show in its logs
        validations = [entry for entry in logs(client, vendor_token, license) if entry[0] == "validation"]
        assert validations == [("validation", False, whole["error_code"], body["hwid"], "203.0.113.9", "sdk/1.0")] * 2


@pytest.mark.parametrize("body", [
    b'{"license_key": "K", "hwid": "h", "product_id": "not-a-uuid"}',
    b'{"license_key": "K", "hwid": "h", "product_id": "3f2a6c1e-0000-4000-8000-000000000000", "extra": 1}',
    b'{"license_key": "K", "hwid": "h\\u0000", "product_id": "3f2a6c1e-0000-4000-8000-000000000000"}',
    b'{"license_key": "", "hwid": "h", "product_id": "3f2a6c1e-0000-4000-8000-000000000000"}',
    b'{"license_key": "K", "hwid": "h", "product_id": "3f2a6c1e-0000-4000-8000-000000000000", "encrypted": true}',
    b'{"license_key": "K", "hwid": "h"',
    b'[]',
])
def test_a_body_the_direct_way_passes_over_is_refused_by_the_route(client, runtime, body):
    position = runtime.ledger.calls.store.head()

    status, _, answer = post_raw(client, "/api/client/validate", [body])

    assert 400 <= status < 500 and answer["success"] is False and answer["error_code"]
    assert runtime.ledger.calls.store.head() == position, "a body refused before any license was looked up records nothing"


def test_a_body_over_the_size_limit_is_the_handlers_413(client, handled):
    status, _, answer = post_raw(client, "/api/client/validate", [b'{"license_key": "' + b"K" * (2 << 20) + b'"}'])
    assert status == 413 and answer["success"] is False and handled == []  # refused while reading, before parsing


def test_an_unexpected_failure_on_the_direct_way_is_the_applications_500_envelope(client, runtime, monkeypatch, caplog):
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runtime.gate, "admit", broken)
    body = b'{"license_key": "K", "hwid": "h", "product_id": "3f2a6c1e-0000-4000-8000-000000000000"}'

    status, headers, answer = post_raw(client, "/api/client/validate", [body])

    # Check the failure is answered as every route's is (api/errors.py), logged, and its detail kept in.
    assert status == 500 and headers["content-type"].startswith("application/json")
    assert answer == {"success": False, "message": "Internal server error", "error_code": "INTERNAL_ERROR"}
    assert "the database went away" in caplog.text


def test_the_path_spelt_with_a_trailing_slash_is_validated_by_the_handler(client, vendor_token, handled):
    product = create_product(client, vendor_token, signing_algorithm="ed25519")
    license = create_license(client, vendor_token, product["id"])
    body = {"license_key": license["license_key"], "hwid": "device-1", "product_id": product["id"]}
    assert client.post("/api/client/activate", json=body).status_code == 200

    status, _, answer = post_raw(client, "/api/client/validate/", [json.dumps(body).encode()])

    assert status == 200 and answer["data"]["valid"] is True and handled == [1]
