"""The OpenAPI schema at /api/schema documents what the routes really send."""

import re
import uuid

import msgspec
import pytest
from litestar.routes import HTTPRoute

from api.schemas import answers
from api.schemas.client import Challenge, EncryptedEnvelope, Heartbeat, HwidChallenge, LicenseCheck
from keys.challenge import challenge_response, hwid_challenge_response
from keys.envelope import open_envelope, seal_envelope
from tests.webhook_receiver import Receiver
from keys.tokens import session_id_of
from tests.conftest import auth, create_license

CLIENT_ROUTES = {("/api/client/validate", "post"), ("/api/client/activate", "post"),
                 ("/api/client/deactivate", "post"), ("/api/client/heartbeat", "post"),
                 ("/api/client/challenge", "post"), ("/api/client/verify-challenge", "post"),
                 ("/api/client/public-key", "get"), ("/api/v1/init", "post"),
                 ("/api/v1/validate", "post"), ("/api/v1/heartbeat", "post"), ("/api/v1/logout", "post")}

NDJSON_ROUTES = {("/api/audit/export", "get")}  # answers NDJSON lines, not one JSON envelope (tests/api/test_audit.py)
SSE_ROUTES = {("/api/events/stream", "get")}  # answers Server-Sent Events (tests/api/test_events_stream.py)


def operations_of(schema):
    return {(path, method): operation for path, item in schema["paths"].items()
            for method, operation in item.items() if isinstance(operation, dict) and "responses" in operation}


def test_every_route_documents_its_refusals_in_the_error_envelope_they_are_sent_in(client):
    schema = client.get("/api/schema/openapi.json").json()
    operations = operations_of(schema)

    assert ("/api/client/validate", "post") in operations and ("/api/products", "post") in operations
    for (path, method), operation in operations.items():
        refusals = {status: answer for status, answer in operation["responses"].items() if status >= "400"}
        # Check every route documents 400 and 503, and each refusal in the error envelope.
        assert {"400", "503"} <= set(refusals), (path, method)
        for answer in refusals.values():
            assert answer["content"]["application/json"]["schema"] == ref_named("ErrorEnvelope"), (path, method)
        assert refusals["503"]["headers"]["Retry-After"]["required"] is True
        # Check every route the rate limiter counts (all but the public key) documents 429 and its headers.
        if (path, method) != ("/api/client/public-key", "get"):
            assert "RATE_LIMIT_EXCEEDED" in refusals["429"]["description"], (path, method)
            assert set(refusals["429"]["headers"]) == {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                                                       "RateLimit-Reset", "RateLimit-Policy"}, (path, method)
    assert "429" not in operations[("/api/client/public-key", "get")]["responses"]
    assert "(product, license key and device)" in operations[("/api/client/validate", "post")]["responses"][
        "429"]["description"]
    assert sorted(schema["components"]["schemas"]["ErrorEnvelope"]["required"]) == ["error_code", "message", "success"]


def test_a_documented_400_is_what_the_route_sends(client):
    answer = client.post("/api/client/validate", json={"license_key": "K"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"success", "message", "error_code"} and answer.json()["error_code"] == "VALIDATION_ERROR"


def lists_the_fields_of(schema, kind):
    """Whether the document's component named after the Struct `kind` has exactly its fields."""
    properties = schema["components"]["schemas"][kind.__name__]["properties"]
    return set(properties) == {field.encode_name for field in msgspec.structs.fields(kind)}


def ref_named(name):
    return {"$ref": f"#/components/schemas/{name}"}


def ref(kind):
    return ref_named(kind.__name__)


def documented_answers(schema, path, method):
    answer = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return answer.get("oneOf", [answer])


def client_calls(client, vendor_token, product, license):
    """One real, successful call to each client route, in a client's order: (path, method, answer, the
    Struct its answer is documented as)."""
    device = {"license_key": license["license_key"], "hwid": "device-1", "product_id": product["id"], "nonce": "n-1"}
    activated = client.post("/api/client/activate", json=device)
    validated = client.post("/api/client/validate", json=device)
    renewed = client.post("/api/client/heartbeat",
                          json={**device, "session_token": activated.json()["data"]["session"]["token"]})
    issued = client.post("/api/client/challenge", json=device)
    challenge = issued.json()["data"]["challenge"]
    response = challenge_response(product["secret_key"], challenge, license["license_key"], "device-1")
    proved = client.post("/api/client/challenge", json={**device, "challenge": challenge, "response": response})
    verified = client.post("/api/client/verify-challenge", json={
        **device, "challenge": "from-the-app", "response": hwid_challenge_response("device-1", "from-the-app")})
    renewed_by_device = client.post("/api/client/heartbeat", json=device)
    deactivated = client.post("/api/client/deactivate", json=device)
    key = client.get(f"/api/client/public-key?product_id={product['id']}")

    other = create_license(client, vendor_token, product["id"], metadata={"plan": "pro"})
    started = client.post("/api/v1/init", json={"api_key": product["secret_key"],
                                                "license_key": other["license_key"], "hwid": "pc-1"})
    session = {"api_key": product["secret_key"], "session_token": started.json()["session_token"]}
    checked = client.post("/api/v1/validate", json=session)
    kept = client.post("/api/v1/heartbeat", json=session)
    ended = client.post("/api/v1/logout", json=session)
    return [("/api/client/activate", "post", activated, answers.ActivationAnswer),
            ("/api/client/validate", "post", validated, answers.ValidationAnswer),
            ("/api/client/heartbeat", "post", renewed, answers.RenewalAnswer),
            ("/api/client/heartbeat", "post", renewed_by_device, answers.RenewalAnswer),
            ("/api/client/verify-challenge", "post", verified, answers.ChallengeVerificationAnswer),
            ("/api/client/challenge", "post", issued, answers.IssuedChallengeAnswer),
            ("/api/client/challenge", "post", proved, answers.ValidationAnswer),
            ("/api/client/deactivate", "post", deactivated, answers.DeactivationAnswer),
            ("/api/client/public-key", "get", key, answers.PublicKeyAnswer),
            ("/api/v1/init", "post", started, answers.LockenceTokenAnswer),
            ("/api/v1/validate", "post", checked, answers.LockenceSessionAnswer),
            ("/api/v1/heartbeat", "post", kept, answers.LockenceTokenAnswer),
            ("/api/v1/logout", "post", ended, answers.LockenceAnswer)]


def test_each_client_route_documents_the_answer_it_sends(client, vendor_token, product, license):
    schema = client.get("/api/schema/openapi.json").json()
    calls = client_calls(client, vendor_token, product, license)

    assert {(path, method) for path, method, _, _ in calls} == CLIENT_ROUTES
    for path, method, answer, kind in calls:
        assert answer.status_code == 200, (path, answer.text)
        # Check the answer has every field its Struct requires and none it lacks: the Structs forbid unknown ones.
        msgspec.json.decode(answer.content, type=kind)
        # Check the document gives that Struct as the route's 200 answer.
        assert ref(kind) in documented_answers(schema, path, method), path
        assert lists_the_fields_of(schema, kind), kind


def test_an_encrypted_request_is_answered_in_the_documented_envelope(client, product, license, clock):
    device = {"license_key": license["license_key"], "hwid": "device-1", "product_id": product["id"]}
    client.post("/api/client/activate", json=device)
    now_ms = int(clock().timestamp() * 1000)
    envelope = seal_envelope(product["secret_key"], product["id"], device, now_ms)
    sealed = client.post("/api/client/validate", json=envelope)

    assert sealed.status_code == 200
    msgspec.json.decode(sealed.content, type=EncryptedEnvelope)
    # Check what it seals is the answer a plain request gets.
    opened = open_envelope(product["secret_key"], sealed.json(), now_ms)
    assert msgspec.convert(opened, answers.ValidationAnswer).data.valid is True


@pytest.mark.parametrize(("action", "request_kind"), [("validate", LicenseCheck), ("activate", LicenseCheck),
                                                       ("deactivate", LicenseCheck), ("heartbeat", Heartbeat),
                                                       ("challenge", Challenge),
                                                       ("verify-challenge", HwidChallenge)])
def test_a_client_route_takes_its_request_plain_or_in_the_envelope(client, action, request_kind):
    schema = client.get("/api/schema/openapi.json").json()
    body = schema["paths"][f"/api/client/{action}"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    assert body == {"oneOf": [ref(request_kind), ref(EncryptedEnvelope)]}
    for kind in (request_kind, EncryptedEnvelope):
        assert lists_the_fields_of(schema, kind), kind


def test_every_reference_in_the_document_names_a_component(client):
    document = client.get("/api/schema/openapi.json")
    named = set(re.findall(r'"#/components/schemas/([^"]+)"', document.text))
    assert named and named <= set(document.json()["components"]["schemas"])


def vendor_calls(client, admin_token, vendor_token):
    """One real, successful call to each vendor route, in a vendor's order: (path as documented, method,
    answer)."""
    calls = []

    def call(method, path, token=None, ids=None, **kwargs):
        answer = client.request(method, path.format(**(ids or {})), headers=auth(token) if token else {}, **kwargs)
        calls.append((path, method.lower(), answer))
        return answer.json()["data"]

    call("POST", "/api/auth/register", json={"email": "third@example.com", "password": "secret123"})
    call("POST", "/api/auth/login", json={"email": "vendor@example.com", "password": "secret123"})
    vendor_token = call("POST", "/api/auth/refresh", vendor_token)["token"]  # the old one is retired
    call("GET", "/api/auth/me", vendor_token)
    vendor_token = call("POST", "/api/auth/change-password", vendor_token,  # ends the vendor's other tokens
                        json={"current_password": "secret123", "new_password": "secret123"})["token"]
    product = {"product_id": call("POST", "/api/products", vendor_token, json={"name": "App"})["id"]}
    call("GET", "/api/products", vendor_token)
    call("GET", "/api/products/{product_id}", vendor_token, product)
    call("PUT", "/api/products/{product_id}", vendor_token, product, json={"description": "Mine"})
    call("POST", "/api/products/{product_id}/regenerate-secret", vendor_token, product)
    license = {"license_id": call("POST", "/api/licenses", vendor_token, json={**product, "metadata": {"a": [1]}})["id"]}
    call("POST", "/api/licenses/bulk", vendor_token, json={**product, "count": 2, "expires_at": "2027-01-01T00:00:00Z"})
    call("GET", "/api/licenses", vendor_token)
    call("GET", "/api/licenses/{license_id}", vendor_token, license)
    call("PUT", "/api/licenses/{license_id}", vendor_token, license, json={"status": "suspended", "username": "u"})
    call("POST", "/api/licenses/{license_id}/reset-hwid", vendor_token, license)
    call("GET", "/api/licenses/{license_id}/logs", vendor_token, license)
    call("GET", "/api/licenses/{license_id}/state", vendor_token, license, params={"at": "2030-01-01T00:00:00Z"})
    call("GET", "/api/products/{product_id}/state", vendor_token, product, params={"at": "2030-01-01T00:00:00Z"})
    call("GET", "/api/licenses/{license_id}/history", vendor_token, license, params={"include": "sessions,calls"})
    call("GET", "/api/stats/dashboard", vendor_token)
    call("GET", "/api/stats/products/{product_id}", vendor_token, product)
    call("GET", "/api/stats/products/{product_id}/timeseries", vendor_token, product, params={"interval": "hour"})
    notification = {"notification_id": call("GET", "/api/notifications", vendor_token)[0]["id"]}
    call("GET", "/api/notifications/unread-count", vendor_token)
    call("POST", "/api/notifications/{notification_id}/read", vendor_token, notification)
    call("POST", "/api/notifications/read-all", vendor_token)
    user = {"user_id": call("GET", "/api/admin/users", admin_token)["users"][1]["id"]}
    call("PUT", "/api/admin/users/{user_id}", admin_token, user, json={"is_active": True})
    call("GET", "/api/admin/projections", admin_token)
    call("GET", "/api/audit/checkpoints", admin_token)
    call("POST", "/api/admin/import", admin_token, json={"owner": "vendor@example.com", "content": "[]"})
    with Receiver() as receiver:
        webhook_calls(call, vendor_token, receiver.url, client.app.state.runtime)
    entry = {"entry_id": call("POST", "/api/security/blacklist", admin_token,
                              json={"type": "ip", "value": "10.0.0.0/8"})["id"]}
    call("GET", "/api/security/blacklist", admin_token)
    call("DELETE", "/api/security/blacklist/{entry_id}", admin_token, entry)
    call("POST", "/api/security/block-ip", admin_token, json={"ip": "192.0.2.1"})
    call("POST", "/api/security/block-hwid", admin_token, json={"hwid": "abc"})
    running = call("POST", "/api/licenses", vendor_token, json=product)
    activated = client.post("/api/client/activate", json={"license_key": running["license_key"], "hwid": "pc",
                                                          "product_id": running["product_id"]}).json()["data"]
    session = {"session_id": str(session_id_of(activated["session"]["token"]))}
    call("GET", "/api/security/sessions", admin_token)
    call("POST", "/api/security/sessions/{session_id}/revoke", admin_token, session, json={"reason": "r"})
    call("GET", "/api/security/events", admin_token)
    call("GET", "/api/security/stats", admin_token)
    call("POST", "/api/security/licenses/{license_id}/revoke-sessions", admin_token, license, json={"reason": "r"})
    call("DELETE", "/api/licenses/{license_id}", vendor_token, license)
    call("DELETE", "/api/products/{product_id}", vendor_token, product)
    return calls


def webhook_calls(call, vendor_token, url, runtime):
    webhook = {"webhook_id": call("POST", "/api/webhooks", vendor_token, json={"url": url,
                                                                             "events": ["license.suspended"]})["id"]}
    call("GET", "/api/webhooks", vendor_token)
    call("GET", "/api/webhooks/{webhook_id}", vendor_token, webhook)
    call("PUT", "/api/webhooks/{webhook_id}", vendor_token, webhook, json={"events": ["license.created"]})
    call("POST", "/api/webhooks/{webhook_id}/test", vendor_token, webhook)
    call("POST", "/api/webhooks/{webhook_id}/replay", vendor_token, webhook, json={"after": 0})
    delivery = call("GET", "/api/webhooks/{webhook_id}/deliveries", vendor_token, webhook)["deliveries"][0]
    call("POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", vendor_token,
         {**webhook, "delivery_id": delivery["id"]})
    call("DELETE", "/api/webhooks/{webhook_id}", vendor_token, webhook)


def returned_types(app):
    """What each route's handler declares it returns, by (path as documented, method)."""
    return {(route.path_format, method.lower()): handler.parsed_fn_signature.return_type.annotation
            for route in app.routes if isinstance(route, HTTPRoute)
            for handler in route.route_handlers for method in handler.http_methods}


def component(schema, reference):
    return schema["components"]["schemas"][reference["$ref"].rpartition("/")[2]]


def msgspec_title(kind):
    top = msgspec.json.schema(kind)
    return top["$defs"][top["$ref"].rpartition("/")[2]]["title"]


@pytest.fixture
def settings(settings):
    """Webhooks may reach the test's own receiver on 127.0.0.1, and nothing else."""
    return msgspec.structs.replace(settings, webhook_allow_private=True, webhook_hosts="127.0.0.1")


def test_each_vendor_route_answers_the_struct_it_documents(client, admin_token, vendor_token):
    schema = client.get("/api/schema/openapi.json").json()
    calls = vendor_calls(client, admin_token, vendor_token)
    kinds = returned_types(client.app)

    assert {(path, method) for path, method, _ in calls} == set(operations_of(schema)) - CLIENT_ROUTES - NDJSON_ROUTES \
        - SSE_ROUTES
    for path, method, answer in calls:
        kind = kinds[(path, method)]
        assert answer.status_code in (200, 201), (path, answer.text)
        # Check the answer has every field its Struct requires and none it lacks: the Structs forbid unknown ones.
        msgspec.json.decode(answer.content, type=kind)
        # Check the document shows that Struct as the answer of this status, down to the fields of `data`.
        documented = schema["paths"][path][method]["responses"][str(answer.status_code)]
        envelope = component(schema, documented["content"]["application/json"]["schema"])
        assert envelope["title"] == msgspec_title(kind), path
        data = msgspec.inspect.type_info(kind).fields[1].type
        data = getattr(data, "item_type", data)  # a list's items
        assert lists_the_fields_of(schema, data.cls), (path, data.cls)


def test_request_bodies_say_they_refuse_unknown_fields(client, vendor_token):
    schema = client.get("/api/schema/openapi.json").json()
    bodies = [operation["requestBody"]["content"]["application/json"]["schema"]
              for operation in operations_of(schema).values() if "requestBody" in operation]

    assert len(bodies) >= 15
    for body in bodies:
        for reference in body.get("oneOf", [body]):
            assert component(schema, reference)["additionalProperties"] is False, reference
    # Check the server does refuse what the document says it refuses.
    refused = client.post("/api/products", json={"name": "App", "colour": "red"}, headers=auth(vendor_token))
    assert (refused.status_code, refused.json()["error_code"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(("path", "field"), [
    ("/api/security/blacklist", "value"), ("/api/security/block-hwid", "hwid"), ("/api/security/block-ip", "ip"),
])
def test_a_blacklist_value_the_server_trims_to_nothing_the_document_refuses_too(client, admin_token, path, field):
    schema = client.get("/api/schema/openapi.json").json()
    body = operations_of(schema)[(path, "post")]["requestBody"]["content"]["application/json"]["schema"]
    pattern = component(schema, body)["properties"][field]["pattern"]
    blank = "\x1c\u00a0 "

    assert re.search(pattern, blank) is None and re.search(pattern, "device-1")
    kind = {"type": "hwid"} if field == "value" else {}
    refused = client.post(path, json={**kind, field: blank}, headers=auth(admin_token))
    assert (refused.status_code, refused.json()["error_code"]) == (400, "VALIDATION_ERROR")


def refusals_of(client, token, path, method):
    """The answers to a request without a token, with `token`, with an unknown id and with an oversized body."""
    url = re.sub(r"\{\w+\}", str(uuid.uuid4()), path)
    if (path, method.lower()) in SSE_ROUTES:
        url += "?follow=false"  # a live stream only ends when the client goes
    big = {"content": b'{"name": "' + b"x" * 1_100_000 + b'"}', "headers": {"Content-Type": "application/json"}}
    return [client.request(method, url), client.request(method, url, headers=auth(token)),
            client.request(method, url, headers={**auth(token), **big["headers"]}, content=big["content"])]


def test_every_refusal_a_route_sends_is_documented(client, vendor_token):
    schema = client.get("/api/schema/openapi.json").json()

    seen = set()
    for (path, method), operation in operations_of(schema).items():
        answers = refusals_of(client, vendor_token, path, method)
        if path == "/api/auth/refresh" and answers[1].status_code == 200:
            vendor_token = answers[1].json()["data"]["token"]  # a refresh retires the token it was given
        for answer in answers:
            if answer.status_code >= 400:
                seen.add(answer.status_code)
                assert str(answer.status_code) in operation["responses"], (path, method, answer.text)
                assert {"success", "message", "error_code"} <= set(answer.json()), (path, method)
        # Check the routes that want a token are exactly those the document says need one.
        wants_token = answers[0].status_code == 401 and answers[0].json()["error_code"] == "UNAUTHORIZED"
        assert wants_token == ("security" in operation), (path, method)
    # Check the sweep met the refusals it is about.
    assert {400, 401, 403, 404, 413} <= seen
