"""A product in LicenseCM compatibility mode: its answers' shape and signature, its refusals' words, its
envelopes (refused exactly as ours whichever way they would open), and the SDKs' challenge."""

import base64
import json
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.api.test_client_security import body_for, now_ms, security_events
from tests.api.test_direct_validation import both_ways, handled  # noqa: F401 - a fixture
from tests.conftest import auth, create_license, create_product
from tests.licensecm_sdks import SDKS, hwid_challenge_response, open_answer, seal, signature_holds

WHOLE_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def legacy(client, vendor_token):
    return create_product(client, vendor_token, "Legacy", client_compatibility="licensecm-sdk",
                          signing_algorithm="ed25519")


@pytest.fixture
def legacy_license(client, vendor_token, legacy):
    return create_license(client, vendor_token, legacy["id"])


def rsa_pem(client):
    return client.get("/api/client/public-key").json()["data"]["public_key"]


def nulls_in(value):
    if isinstance(value, dict):
        return any(item is None or nulls_in(item) for item in value.values())
    return isinstance(value, list) and any(nulls_in(item) for item in value)


def test_an_answer_carries_its_signed_payload_as_a_plain_string_signed_with_rsa_sha512(client, legacy,
                                                                                        legacy_license):
    data = client.post("/api/client/activate", json=body_for(legacy_license, nonce="n-7")).json()["data"]

    # Check data.data is ASCII needing no JSON escape (so Node and Python write it alike), and the signature is
    # RSA PKCS#1 v1.5 over SHA-512 of it in quotes, with the RSA key (the product chose Ed25519 for its own).
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", data["data"])
    key = serialization.load_pem_public_key(rsa_pem(client).encode())
    key.verify(base64.b64decode(data["signature"]), f'"{data["data"]}"'.encode(), padding.PKCS1v15(),
               hashes.SHA512())
    # Check the payload is everything our own signature covers, and what the answer shows beside it.
    signed = json.loads(base64.urlsafe_b64decode(data["data"]))
    assert signed == {name: value for name, value in data.items() if name not in ("data", "signature")}
    assert {"activated", "session", "license", "watermark", "timestamp", "key_id", "product_id", "license_key",
            "hwid", "nonce", "new_token"} <= set(signed)
    assert (signed["nonce"], signed["hwid"], signed["product_id"]) == ("n-7", "device-1", legacy["id"])
    assert signed["key_id"] == client.get("/api/client/public-key").json()["data"]["key_id"]


def test_an_answer_has_no_nulls_and_whole_second_expiry_times(client, vendor_token, legacy):
    license = create_license(client, vendor_token, legacy["id"], expires_at="2027-03-04T05:06:07.890Z")
    activated = client.post("/api/client/activate", json=body_for(license)).json()["data"]
    token = activated["session"]["token"]
    renewed = client.post("/api/client/heartbeat", json=body_for(license, session_token=token)).json()["data"]
    open_ended = create_license(client, vendor_token, legacy["id"])
    unlimited = client.post("/api/client/activate", json=body_for(open_ended, hwid="d2")).json()["data"]

    assert WHOLE_SECONDS.match(activated["session"]["expires_at"]) and WHOLE_SECONDS.match(renewed["expires_at"])
    assert activated["license"]["expires_at"] == "2027-03-04T05:06:07Z"
    assert "expires_at" not in unlimited["license"] and not nulls_in(unlimited)
    # Check every answer to a call made with a session hands a token back: the new one, or the same one.
    assert activated["new_token"] == token and renewed["new_token"] != token
    validated = client.post("/api/client/validate", json=body_for(license, session_token=renewed["new_token"]))
    assert validated.json()["data"]["new_token"] == renewed["new_token"]


def test_a_product_in_our_own_mode_answers_as_documented(client, product, license):
    data = client.post("/api/client/activate", json=body_for(license, session_token="x.y")).json()["data"]
    assert "data" not in data and "new_token" not in data and data["license"]["expires_at"] is None
    assert re.search(r"\.\d{6}Z$", data["session"]["expires_at"])


@pytest.mark.parametrize("session_token", [None, "facade.token"])
def test_compatibility_answers_come_out_the_same_on_both_validation_paths(client, legacy, legacy_license, handled,
                                                                          session_token):
    body = body_for(legacy_license, client_data={"platform": "linux", "vm_indicators": None})
    if session_token:
        body["session_token"] = session_token
    assert client.post("/api/client/activate", json=body).status_code == 200

    (status, _, whole), (parted_status, _, parted) = both_ways(client, json.dumps(body).encode(), handled)

    assert status == parted_status == 200
    changes = ("timestamp", "signature", "data")
    assert {k: v for k, v in whole["data"].items() if k not in changes} == {
        k: v for k, v in parted["data"].items() if k not in changes}
    assert whole["data"].get("new_token") == session_token
    pem = rsa_pem(client)
    for answer in (whole, parted):
        assert signature_holds(SDKS["node"], answer["data"], pem) and signature_holds(SDKS["python"],
                                                                                       answer["data"], pem)


def test_a_compatibility_refusal_answers_alike_on_both_validation_paths(client, legacy_license, handled):
    body = {**body_for(legacy_license), "license_key": "BAD0-0000-0000-0000"}
    (status, _, whole), (_, _, parted) = both_ways(client, json.dumps(body).encode(), handled)
    assert status == 404 and whole == parted == {"success": False, "message": "License not found",
                                                 "error_code": "LICENSE_NOT_FOUND"}


def heartbeat_refusal(client, license, token, **changes):
    response = client.post("/api/client/heartbeat", json=body_for(license, session_token=token, **changes))
    assert response.json()["success"] is False
    return response.json()["message"]


def test_refusals_speak_of_an_ended_session_only_when_it_ended(client, vendor_token, legacy, clock):
    license = create_license(client, vendor_token, legacy["id"], expires_at="2026-01-15T12:30:00Z")
    token = client.post("/api/client/activate", json=body_for(license)).json()["data"]["session"]["token"]
    words = re.compile("expired|invalid", re.IGNORECASE)

    # Check a suspension or a lapsed license leaves the session to run again, so neither word appears ...
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    assert not words.search(heartbeat_refusal(client, license, token))
    client.put(f"/api/licenses/{license['id']}", json={"status": "active"}, headers=auth(vendor_token))
    clock.advance(minutes=31)
    lapsed = heartbeat_refusal(client, license, token)
    validated = client.post("/api/client/validate", json=body_for(license)).json()["message"]
    assert not words.search(lapsed) and not words.search(validated)
    client.put(f"/api/licenses/{license['id']}", json={"expires_at": None}, headers=auth(vendor_token))
    # ... and a released device, an unknown token or a deleted license end it, in lower case for Node.
    assert "expired" in heartbeat_refusal(client, license, "0" * 32 + ".nope")
    client.post(f"/api/licenses/{license['id']}/reset-hwid", headers=auth(vendor_token))
    assert "expired" in heartbeat_refusal(client, license, token)
    client.delete(f"/api/licenses/{license['id']}", headers=auth(vendor_token))
    assert "expired" in heartbeat_refusal(client, license, token)


def test_a_blacklisted_caller_is_told_it_is_blocked_with_a_boolean(client, legacy_license, runtime, clock):
    from domain.blacklist import BlacklistType, Severity

    runtime.ledger.add_blacklist_entry(BlacklistType.HWID, "device-1", "sharing", Severity.HIGH, None, None, clock())
    answer = client.post("/api/client/validate", json=body_for(legacy_license)).json()
    assert answer == {"success": False, "message": "Access denied", "error_code": "BLACKLISTED",
                      "security_blocked": True, "security_details": {"reason": "blacklist_hit", "type": "hwid"}}


# --- envelopes --------------------------------------------------------------------------------------------


def sdk_sealed(name, legacy, body, clock, secret=None):
    """An envelope as the named SDK seals it."""
    sdk = SDKS[name]
    return seal(sdk, secret or legacy["secret_key"], legacy["id"], sdk.encode(body), now_ms(clock))


@pytest.mark.parametrize(("name", "iv_hex"), [("node", 32), ("go", 32), ("rust", 24)])
def test_an_sdk_envelope_is_answered_under_its_key_with_a_12_byte_iv(client, legacy, legacy_license, clock, name,
                                                                     iv_hex):
    envelope = sdk_sealed(name, legacy, body_for(legacy_license), clock)
    assert len(envelope["iv"]) == iv_hex
    sealed = client.post("/api/client/activate", json=envelope).json()

    # Check the SDK opens the answer its own way (Go and Rust: the iv's first 12 bytes).
    assert len(sealed["iv"]) == 24
    assert open_answer(SDKS[name], legacy["secret_key"], sealed, encrypted=True)["data"]["activated"] is True


def test_a_refusal_to_an_sdk_envelope_is_plain(client, legacy, legacy_license, clock):
    client.post("/api/client/activate", json=body_for(legacy_license, hwid="first"))
    response = client.post("/api/client/activate", json=sdk_sealed("python", legacy,
                                                                   body_for(legacy_license, hwid="second"), clock))
    assert response.status_code == 403 and response.json()["error_code"] == "HWID_MISMATCH"


@pytest.mark.parametrize(("compatibility", "name"), [("keyledger", "node"), ("keyledger", "rust"),
                                                     ("licensecm-sdk", "node"), ("licensecm-sdk", "go"),
                                                     ("licensecm-sdk", "rust")])
def test_tampered_stale_and_replayed_sdk_envelopes_are_refused_and_recorded(client, vendor_token, runtime, clock,
                                                                           compatibility, name):
    product = create_product(client, vendor_token, client_compatibility=compatibility)
    license = create_license(client, vendor_token, product["id"])
    forged = sdk_sealed(name, product, body_for(license), clock, secret="sk_live_" + "0" * 48)
    altered = sdk_sealed(name, product, body_for(license), clock)
    altered["data"] = altered["data"][:-2] + ("00" if altered["data"][-2:] != "00" else "11")
    stale = sdk_sealed(name, product, body_for(license), clock)
    clock.advance(minutes=6)
    once = sdk_sealed(name, product, body_for(license), clock)

    for envelope in (forged, altered, stale):
        response = client.post("/api/client/activate", json=envelope)
        # Check each is refused in plain words (nobody can tell whether its sender holds the secret).
        assert (response.status_code, response.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert client.post("/api/client/activate", json=once).status_code == 200
    replayed = client.post("/api/client/activate", json=once)
    assert (replayed.status_code, replayed.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert security_events(runtime) == ["tamper_detected", "tamper_detected", "replay_attack", "replay_attack"]


# --- the SDKs' challenge ---------------------------------------------------------------------------------


def test_the_sdks_challenge_is_answered_when_keyed_with_the_hwid_and_refused_otherwise(client, legacy,
                                                                                      legacy_license, runtime):
    client.post("/api/client/activate", json=body_for(legacy_license))
    right = hwid_challenge_response("device-1", "c-1")
    verified = client.post("/api/client/verify-challenge", json=body_for(legacy_license, challenge="c-1",
                                                                          response=right.upper()))
    wrong = client.post("/api/client/verify-challenge", json=body_for(legacy_license, challenge="c-1",
                                                                       response=hwid_challenge_response("pc", "c-1")))

    assert verified.status_code == 200 and verified.json()["data"]["verified"] is True
    assert signature_holds(SDKS["python"], verified.json()["data"], rsa_pem(client))
    assert (wrong.status_code, wrong.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert security_events(runtime) == ["tamper_detected"]


def test_csharps_challenge_plain_without_client_data_is_answered(client, legacy, legacy_license):
    client.post("/api/client/activate", json=body_for(legacy_license))
    body = {"license_key": legacy_license["license_key"], "hwid": "device-1", "challenge": "c",
            "response": hwid_challenge_response("device-1", "c"), "product_id": legacy["id"]}
    response = client.post("/api/client/verify-challenge", content=json.dumps(body),
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200 and response.json()["success"] is True
