"""The OpenAPI schema at /api/schema documents what the routes really send."""

import re

import msgspec
import pytest

from api.schemas import answers
from api.schemas.client import Challenge, EncryptedEnvelope, Heartbeat, HwidChallenge, LicenseCheck
from keys.challenge import challenge_response, hwid_challenge_response
from keys.envelope import open_envelope, seal_envelope
from tests.conftest import create_license

CLIENT_ROUTES = {("/api/client/validate", "post"), ("/api/client/activate", "post"),
                 ("/api/client/deactivate", "post"), ("/api/client/heartbeat", "post"),
                 ("/api/client/challenge", "post"), ("/api/client/verify-challenge", "post"),
                 ("/api/client/public-key", "get"), ("/api/v1/init", "post"),
                 ("/api/v1/validate", "post"), ("/api/v1/heartbeat", "post"), ("/api/v1/logout", "post")}


def test_every_route_documents_its_400_in_the_error_envelope_it_is_sent_in(client):
    schema = client.get("/api/schema/openapi.json").json()
    operations = {(path, method): operation for path, item in schema["paths"].items()
                  for method, operation in item.items() if isinstance(operation, dict) and "responses" in operation}

    assert ("/api/client/validate", "post") in operations and ("/api/products", "post") in operations
    for (path, method), operation in operations.items():
        content = operation["responses"]["400"]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, method)
    assert schema["components"]["schemas"]["ErrorEnvelope"]["required"] == ["error_code", "message", "success"]


def test_a_documented_400_is_what_the_route_sends(client):
    answer = client.post("/api/client/validate", json={"license_key": "K"})
    assert answer.status_code == 400
    assert set(answer.json()) == {"success", "message", "error_code"} and answer.json()["error_code"] == "VALIDATION_ERROR"


def lists_the_fields_of(schema, kind):
    """Whether the document's component named after the Struct `kind` has exactly its fields."""
    properties = schema["components"]["schemas"][kind.__name__]["properties"]
    return set(properties) == {field.name for field in msgspec.structs.fields(kind)}


def ref(kind):
    return {"$ref": f"#/components/schemas/{kind.__name__}"}


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
