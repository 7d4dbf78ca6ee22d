"""Webhook endpoints: register, list, get, change, delete, test; refusals with the envelope; tenancy."""

import msgspec
import pytest

from keyledger.settings import Settings
from keys.webhook_signature import verify_webhook_signature
from tests.conftest import auth, register
from tests.webhook_receiver import Receiver

HOOK = {"url": "https://hooks.example.com/keyledger", "events": ["license.created", "security.alert"]}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Private addresses allowed (the receiver is on 127.0.0.1), but only these names, so nothing leaves."""
    return msgspec.structs.replace(settings, webhook_allow_private=True,
                                   webhook_hosts="127.0.0.1,hooks.example.com,other.example.com")


def create_webhook(client, token, **fields):
    response = client.post("/api/webhooks", json={**HOOK, **fields}, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def test_vendor_registers_lists_changes_and_deletes_a_webhook(client, vendor_token):
    created = create_webhook(client, vendor_token, secret="whsec_given_by_vendor")
    changed = client.put(f"/api/webhooks/{created['id']}", json={"events": ["license.expired"], "is_active": False},
                         headers=auth(vendor_token)).json()["data"]
    listed = client.get("/api/webhooks", headers=auth(vendor_token)).json()["data"]
    deleted = client.delete(f"/api/webhooks/{created['id']}", headers=auth(vendor_token))

    assert (created["url"], created["events"], created["is_active"]) == (HOOK["url"], HOOK["events"], True)
    assert created["secret"] == "whsec_given_by_vendor"
    assert (changed["events"], changed["is_active"], "secret" in changed) == (["license.expired"], False, False)
    assert [(hook["id"], "secret" in hook) for hook in listed] == [(created["id"], False)]
    assert deleted.status_code == 200
    assert client.get(f"/api/webhooks/{created['id']}", headers=auth(vendor_token)).status_code == 404
    assert client.get("/api/webhooks", headers=auth(vendor_token)).json()["data"] == []


def test_a_generated_secret_is_shown_once_and_never_stored_in_clear(client, vendor_token, runtime):
    created = create_webhook(client, vendor_token)
    shown = client.get(f"/api/webhooks/{created['id']}", headers=auth(vendor_token)).json()["data"]
    stored = b"".join(n.state for n in runtime.ledger.recorder.select_notifications(start=0, limit=1000))

    assert created["secret"].startswith("whsec_") and "secret" not in shown
    assert created["secret"].encode() not in stored


@pytest.mark.parametrize(("body", "words"), [
    ({**HOOK, "url": "ftp://hooks.example.com/x"}, "https"),
    ({**HOOK, "url": "https://evil.example.net/x"}, "host"),
    ({**HOOK, "url": "not a url"}, "url"),
    ({**HOOK, "events": ["license.exploded"]}, "events"),
    ({**HOOK, "events": []}, "events"),
    ({**HOOK, "secret": "short"}, "secret"),
    ({**HOOK, "colour": "red"}, "colour"),
])
def test_bad_webhooks_are_refused_with_the_envelope_and_write_nothing(client, vendor_token, runtime, body, words):
    before = runtime.ledger.position()
    response = client.post("/api/webhooks", json=body, headers=auth(vendor_token))
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False and response.json()["error_code"] == "VALIDATION_ERROR"
    assert words in response.json()["message"].lower()
    assert runtime.ledger.position() == before


def test_another_vendors_webhook_answers_404_and_stays_unchanged(client, vendor_token):
    other = register(client, "other@example.com")
    hook = create_webhook(client, vendor_token)
    paths = [("get", ""), ("put", ""), ("delete", ""), ("post", "/test"), ("get", "/deliveries"),
             ("post", "/replay")]
    for method, tail in paths:
        kwargs = {"json": {"after": 0} if tail == "/replay" else {"is_active": False}} if method in ("put", "post") \
            else {}
        response = getattr(client, method)(f"/api/webhooks/{hook['id']}{tail}", headers=auth(other), **kwargs)
        assert (response.status_code, response.json()["error_code"]) == (404, "WEBHOOK_NOT_FOUND"), (method, tail)
    assert client.get("/api/webhooks", headers=auth(other)).json()["data"] == []
    assert client.get(f"/api/webhooks/{hook['id']}", headers=auth(vendor_token)).json()["data"]["is_active"]


def test_test_endpoint_sends_a_signed_delivery_and_reports_the_answer(client, vendor_token, clock):
    with Receiver(statuses=[204]) as receiver:
        hook = create_webhook(client, vendor_token, url=receiver.url, secret="whsec_test_secret")
        answer = client.post(f"/api/webhooks/{hook['id']}/test", headers=auth(vendor_token)).json()["data"]

    got = receiver.received[0]
    assert answer["status_code"] == 204 and answer["response_time_ms"] >= 0 and answer["error"] is None
    assert got.json["type"] == "webhook.test" and got.headers["keyledger-event"] == "webhook.test"
    assert verify_webhook_signature("whsec_test_secret", got.headers["keyledger-signature"], got.body,
                                    int(clock().timestamp()))


def test_private_addresses_are_refused_unless_the_server_allows_them(runtime):
    from adapters.webhook_http import UrlGuard
    from domain.errors import InvalidValueError

    guard = UrlGuard(allow_private=False)
    for url in ("https://127.0.0.1/x", "https://10.1.2.3/x", "https://169.254.169.254/latest", "https://[::1]/x",
                "https://192.168.0.10/x", "http://93.184.215.14/x", "https://localhost/x"):
        with pytest.raises(InvalidValueError):
            guard(url)
    UrlGuard(allow_private=True)("http://127.0.0.1:9/x")  # development: allowed


def test_registering_again_with_the_same_idempotency_key_registers_once(client, vendor_token):
    headers = {**auth(vendor_token), "Idempotency-Key": "hook-1"}
    first = client.post("/api/webhooks", json=HOOK, headers=headers)
    again = client.post("/api/webhooks", json=HOOK, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert len(client.get("/api/webhooks", headers=auth(vendor_token)).json()["data"]) == 1
