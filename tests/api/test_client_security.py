"""Client API under attack: the encryption envelope, replays, tampering, challenges, blacklist."""

import pytest

from domain.blacklist import BlacklistType, Severity
from keys.challenge import challenge_response
from keys.envelope import open_envelope, seal_envelope
from tests.conftest import call_records, calling_from, create_license, create_product


def now_ms(clock):
    return int(clock().timestamp() * 1000)


def body_for(license, hwid="device-1", **extra):
    return {"license_key": license["license_key"], "hwid": hwid, "product_id": license["product_id"], **extra}


def security_events(runtime):
    """The security event types recorded by client calls so far, in order."""
    records = call_records(runtime.ledger.calls.store, 0, 10_000)
    return [record.security_event for _, record in records if record.security_event]


def test_encrypted_request_gets_an_encrypted_answer(client, product, license, clock):
    envelope = seal_envelope(product["secret_key"], product["id"], body_for(license), now_ms(clock))
    response = client.post("/api/client/activate", json=envelope)
    sealed = response.json()

    assert response.status_code == 200 and sealed["encrypted"] is True and "success" not in sealed
    answer = open_envelope(product["secret_key"], sealed, now_ms(clock))
    assert answer["success"] is True and answer["data"]["activated"] is True


def test_encrypted_refusal_is_encrypted_too(client, product, license, clock):
    client.post("/api/client/activate", json=body_for(license, hwid="first"))
    envelope = seal_envelope(product["secret_key"], product["id"], body_for(license, hwid="second"), now_ms(clock))
    response = client.post("/api/client/activate", json=envelope)
    answer = open_envelope(product["secret_key"], response.json(), now_ms(clock))
    assert response.status_code == 403 and answer["error_code"] == "HWID_MISMATCH"


def test_replayed_envelope_is_refused_and_recorded(client, product, license, clock, runtime):
    envelope = seal_envelope(product["secret_key"], product["id"], body_for(license), now_ms(clock))
    assert client.post("/api/client/validate", json=envelope).status_code in (200, 403)
    replay = client.post("/api/client/validate", json=envelope)
    assert (replay.status_code, replay.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert "replay_attack" in security_events(runtime)


@pytest.mark.parametrize("field", ["data", "tag", "iv", "signature"])
def test_tampered_envelope_is_refused_as_tamper(client, product, license, clock, runtime, field):
    envelope = seal_envelope(product["secret_key"], product["id"], body_for(license), now_ms(clock))
    envelope[field] = ("0" if envelope[field][0] != "0" else "1") + envelope[field][1:]
    response = client.post("/api/client/validate", json=envelope)
    assert (response.status_code, response.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert security_events(runtime) == ["tamper_detected"]


@pytest.mark.parametrize("minutes", [-6, 6])
def test_envelope_outside_five_minutes_is_refused(client, product, license, clock, runtime, minutes):
    envelope = seal_envelope(product["secret_key"], product["id"], body_for(license),
                             now_ms(clock) + minutes * 60_000)
    response = client.post("/api/client/validate", json=envelope)
    assert response.json()["error_code"] == "SECURITY_VIOLATION"
    assert security_events(runtime) == ["replay_attack"]


def test_malformed_envelope_fields_never_500(client, product, license, clock):
    good = seal_envelope(product["secret_key"], product["id"], body_for(license), now_ms(clock))
    variants = [{**good, "iv": "zz" * 16}, {**good, "tag": good["tag"][:10]}, {**good, "timestamp": "soon"},
                {**good, "data": None}, {**good, "product_id": "not-a-uuid"},
                {k: v for k, v in good.items() if k != "signature"}]
    for envelope in variants:
        response = client.post("/api/client/validate", json=envelope)
        assert 400 <= response.status_code < 500, envelope
        assert response.json()["success"] is False


def test_challenge_answered_once_with_the_right_hmac(client, product, license):
    client.post("/api/client/activate", json=body_for(license))
    issued = client.post("/api/client/challenge", json=body_for(license)).json()["data"]
    response = challenge_response(product["secret_key"], issued["challenge"], license["license_key"], "device-1")
    answer = body_for(license, challenge=issued["challenge"], response=response)

    first = client.post("/api/client/challenge", json=answer)
    reused = client.post("/api/client/challenge", json=answer)
    assert first.status_code == 200 and first.json()["data"]["valid"] is True
    assert reused.json()["error_code"] == "SECURITY_VIOLATION"


def test_wrong_or_late_challenge_answer_fails(client, product, license, clock, runtime):
    client.post("/api/client/activate", json=body_for(license))
    issued = client.post("/api/client/challenge", json=body_for(license)).json()["data"]
    wrong = client.post("/api/client/challenge", json=body_for(license, challenge=issued["challenge"],
                                                                response="00" * 32))
    assert wrong.json()["error_code"] == "SECURITY_VIOLATION"
    assert "tamper_detected" in security_events(runtime)


def test_blacklisted_ip_is_told_it_is_blocked(client, license, runtime, clock):
    runtime.ledger.add_blacklist_entry(BlacklistType.IP, "203.0.113.7", "abuse", Severity.HIGH, None, None, clock())
    with calling_from(client, "203.0.113.7"):
        response = client.post("/api/client/validate", json=body_for(license))
    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "Access denied", "error_code": "BLACKLISTED",
                               "security_blocked": True, "security_details": {"reason": "blacklist_hit", "type": "ip"}}
    assert security_events(runtime) == ["blacklist_hit"]


def test_blacklisted_hwid_outranks_every_other_refusal(client, license, runtime, clock):
    runtime.ledger.add_blacklist_entry(BlacklistType.HWID, "bad-device", "sharing", Severity.HIGH, None, None, clock())
    response = client.post("/api/client/validate", json={**body_for(license, hwid="bad-device"),
                                                         "license_key": "AAAA-BBBB-CCCC-DDDD"})
    assert response.json()["error_code"] == "BLACKLISTED"


def test_vm_indicators_are_recorded_and_block_only_when_the_product_says_so(client, vendor_token, runtime):
    lenient = create_product(client, vendor_token, "Lenient")
    strict = create_product(client, vendor_token, "Strict", block_vm=True)
    data = {"platform": "linux", "vm_indicators": ["vbox"], "debug_indicators": []}
    allowed = client.post("/api/client/activate", json={**body_for(create_license(client, vendor_token, lenient["id"])),
                                                        "client_data": data})
    refused = client.post("/api/client/activate", json={**body_for(create_license(client, vendor_token, strict["id"])),
                                                        "client_data": data})
    assert allowed.status_code == 200
    assert (refused.status_code, refused.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert security_events(runtime) == ["vm_detected", "vm_detected"]


def test_debugger_policy_can_be_switched_on_later(client, vendor_token, product, license, runtime):
    from tests.conftest import auth

    client.post("/api/client/activate", json=body_for(license))
    client.put(f"/api/products/{product['id']}", json={"block_debugger": True}, headers=auth(vendor_token))
    response = client.post("/api/client/validate", json={**body_for(license),
                                                         "client_data": {"debug_indicators": ["ptrace"]}})
    assert response.json()["error_code"] == "SECURITY_VIOLATION"
    assert security_events(runtime) == ["debug_detected"]
