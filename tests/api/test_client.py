"""Client API: validate, activate, heartbeat, deactivate, signed answers, public key."""

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from keys.canonical import canonical_json
from keys.signing import verify
from tests.conftest import auth, call_records, create_license, create_product, settle


def call(client, action, license, hwid="device-1", **extra):
    body = {"license_key": license["license_key"], "hwid": hwid, "product_id": license["product_id"], **extra}
    return client.post(f"/api/client/{action}", json=body)


def verified(client, data, product_id):
    """Check a signed answer with nothing but the PEM, as a client in any language would."""
    key = client.get(f"/api/client/public-key?product_id={product_id}").json()["data"]
    unsigned = {k: v for k, v in data.items() if k != "signature"}
    return unsigned["key_id"] == key["key_id"] and verify(
        load_pem_public_key(key["public_key"].encode()), canonical_json(unsigned), data["signature"])


def test_activation_answers_with_a_session_and_a_verifiable_signature(client, license):
    response = call(client, "activate", license, nonce="n-123",
                    client_data={"platform": "win32", "os_version": "10", "vm_indicators": [], "debug_indicators": []})
    data = response.json()["data"]

    assert response.status_code == 200
    assert data["activated"] is True and data["session"]["token"] and data["session"]["expires_at"]
    assert data["license"] == {"type": "subscription", "expires_at": None, "metadata": {}}
    # Check the nonce comes back inside the signed data, so an old answer cannot be replayed.
    assert data["nonce"] == "n-123" and data["timestamp"]
    assert verified(client, data, license["product_id"])


def test_signature_breaks_when_the_answer_is_altered(client, license):
    data = call(client, "activate", license).json()["data"]
    data["license"]["type"] = "lifetime"
    assert not verified(client, data, license["product_id"])


def test_ed25519_product_signs_with_its_own_key(client, vendor_token):
    product = create_product(client, vendor_token, signing_algorithm="ed25519")
    license = create_license(client, vendor_token, product["id"])
    data = call(client, "activate", license).json()["data"]
    key = client.get(f"/api/client/public-key?product_id={product['id']}").json()["data"]
    assert key["algorithm"] == "ed25519" and "BEGIN PUBLIC KEY" in key["public_key"]
    assert verified(client, data, product["id"])


def test_default_public_key_is_rsa_4096(client):
    key = client.get("/api/client/public-key").json()["data"]
    assert key["algorithm"] == "rsa-4096"
    assert load_pem_public_key(key["public_key"].encode()).key_size == 4096


def test_validate_after_activation_is_valid_and_watermarked_per_device(client, vendor_token, license):
    other = create_license(client, vendor_token, license["product_id"], max_uses=2)
    call(client, "activate", license)
    first = call(client, "validate", license).json()["data"]
    call(client, "activate", other, hwid="device-1")
    call(client, "activate", other, hwid="device-2")
    marks = {call(client, "validate", other, hwid=h).json()["data"]["watermark"] for h in ("device-1", "device-2")}

    assert first["valid"] is True
    assert len(marks | {first["watermark"]}) == 3


def test_second_device_on_a_single_seat_license_is_a_hwid_mismatch(client, license):
    call(client, "activate", license, hwid="device-1")
    response = call(client, "activate", license, hwid="device-2")
    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "License is locked to another device",
                               "error_code": "HWID_MISMATCH"}


def test_full_multi_seat_license_exceeds_max_uses(client, vendor_token, product, runtime):
    license = create_license(client, vendor_token, product["id"], max_uses=2)
    for hwid in ("a", "b"):
        assert call(client, "activate", license, hwid=hwid).status_code == 200
    response = call(client, "activate", license, hwid="c")
    assert response.json()["error_code"] == "MAX_USES_EXCEEDED"
    # Check re-activating a bound device still works and takes no new seat.
    assert call(client, "activate", license, hwid="a").status_code == 200
    settle(runtime)
    seen = client.get(f"/api/licenses/{license['id']}", headers=auth(vendor_token)).json()["data"]
    assert seen["current_uses"] == 2 and sorted(seen["devices"]) == ["a", "b"]


def test_suspension_takes_effect_on_the_very_next_call(client, vendor_token, license):
    call(client, "activate", license)
    client.put(f"/api/licenses/{license['id']}", json={"status": "suspended"}, headers=auth(vendor_token))
    response = call(client, "validate", license)
    assert (response.status_code, response.json()["error_code"]) == (403, "LICENSE_SUSPENDED")


def test_expired_license_is_refused_and_lifetime_never_expires(client, vendor_token, product, clock):
    dated = create_license(client, vendor_token, product["id"], expires_at="2026-02-01T00:00:00Z")
    lifetime = create_license(client, vendor_token, product["id"], type="lifetime")
    clock.advance(days=3650)
    assert call(client, "activate", dated).json()["error_code"] == "LICENSE_EXPIRED"
    assert call(client, "activate", lifetime).status_code == 200


def test_reset_hwid_frees_the_seat_for_a_new_device(client, vendor_token, license):
    call(client, "activate", license, hwid="old")
    client.post(f"/api/licenses/{license['id']}/reset-hwid", headers=auth(vendor_token))
    assert call(client, "activate", license, hwid="new").status_code == 200
    assert call(client, "validate", license, hwid="old").json()["error_code"] == "HWID_MISMATCH"


def test_unknown_malformed_and_foreign_keys_are_not_found(client, vendor_token, license):
    other_product = create_product(client, vendor_token, "Other")
    cases = [
        {**license, "license_key": "AAAA-BBBB-CCCC-DDDD"},
        {**license, "license_key": "not a key at all"},
        {**license, "product_id": other_product["id"]},
    ]
    for case in cases:
        response = call(client, "validate", case)
        assert (response.status_code, response.json()["error_code"]) == (404, "LICENSE_NOT_FOUND"), case


def test_an_unknown_or_deleted_product_is_not_found_whatever_the_key(client, vendor_token, license):
    gone = create_product(client, vendor_token, "Gone")
    gone_license = create_license(client, vendor_token, gone["id"])
    client.delete(f"/api/products/{gone['id']}", headers=auth(vendor_token))
    cases = [
        {**license, "product_id": "00000000-0000-4000-8000-000000000000"},  # a good key, a product never made
        gone_license,
    ]
    for case in cases:
        response = call(client, "validate", case)
        assert (response.status_code, response.json()["error_code"]) == (404, "PRODUCT_NOT_FOUND"), case


def test_a_heartbeat_is_answered_only_for_the_license_its_session_belongs_to(client, vendor_token, product, license,
                                                                             runtime):
    token = call(client, "activate", license, hwid="shared-pc").json()["data"]["session"]["token"]
    other = create_license(client, vendor_token, product["id"])
    call(client, "activate", other, hwid="shared-pc")
    suspended = create_license(client, vendor_token, product["id"])
    client.put(f"/api/licenses/{suspended['id']}", json={"status": "suspended"}, headers=auth(vendor_token))

    # Check the token signs nothing for a key it was not issued to: a made-up key, a suspended one, another live one.
    made_up = call(client, "heartbeat", {**license, "license_key": "ANY-STRING-I-LIKE"}, hwid="shared-pc",
                   session_token=token)
    assert (made_up.status_code, made_up.json()["error_code"]) == (404, "LICENSE_NOT_FOUND")
    frozen = call(client, "heartbeat", suspended, hwid="shared-pc", session_token=token)
    assert (frozen.status_code, frozen.json()["error_code"]) == (403, "LICENSE_SUSPENDED")
    borrowed = call(client, "heartbeat", other, hwid="shared-pc", session_token=token)
    assert (borrowed.status_code, borrowed.json()["error_code"]) == (401, "SESSION_EXPIRED")
    assert runtime.ledger.calls.store.history(other["id"], 1)[0][7] == "tamper_detected"
    # ...and still heartbeats for its own license.
    own = call(client, "heartbeat", license, hwid="shared-pc", session_token=token)
    assert own.status_code == 200 and own.json()["data"]["license_key"] == license["license_key"]


def test_heartbeat_rotates_the_token_and_the_old_one_dies(client, license, clock):
    token = call(client, "activate", license).json()["data"]["session"]["token"]
    beat = call(client, "heartbeat", license, session_token=token).json()["data"]
    assert beat["valid"] is True and beat["new_token"] != token
    clock.advance(seconds=61)
    stale = call(client, "heartbeat", license, session_token=token)
    assert (stale.status_code, stale.json()["error_code"]) == (401, "SESSION_EXPIRED")
    assert call(client, "heartbeat", license, session_token=beat["new_token"]).status_code == 200


def test_a_lost_heartbeat_answer_does_not_kill_the_session(client, license, clock):
    token = call(client, "activate", license).json()["data"]["session"]["token"]
    lost = call(client, "heartbeat", license, session_token=token).json()["data"]["new_token"]
    clock.advance(seconds=30)
    # Check the client, which never saw `lost`, retries with its old token and gets a fresh one.
    retried = call(client, "heartbeat", license, session_token=token).json()["data"]["new_token"]
    assert retried not in (token, lost)
    # Check neither replaced token outlives the grace minute; the newest one does.
    clock.advance(seconds=61)
    for old in (token, lost):
        assert call(client, "heartbeat", license, session_token=old).json()["error_code"] == "SESSION_EXPIRED"
    assert call(client, "heartbeat", license, session_token=retried).status_code == 200


def test_a_session_token_used_from_another_device_is_refused_and_ends_the_session(client, vendor_token, product,
                                                                                 runtime):
    from domain.session import EndReason, Session
    from keys.tokens import session_id_of

    license = create_license(client, vendor_token, product["id"], max_uses=2)
    mine = call(client, "activate", license, hwid="pc-1").json()["data"]["session"]["token"]
    theirs = call(client, "activate", license, hwid="pc-2").json()["data"]["session"]["token"]

    stolen = call(client, "heartbeat", license, hwid="pc-2", session_token=mine)
    # Check the other device is refused as a hijack, and the stolen session is over for everyone...
    assert (stolen.status_code, stolen.json()["error_code"]) == (403, "SECURITY_VIOLATION")
    assert call(client, "heartbeat", license, hwid="pc-1", session_token=mine).json()["error_code"] == \
        "SESSION_EXPIRED"
    ended = [e.reason for e in runtime.ledger.events.get(session_id_of(mine)) if isinstance(e, Session.Ended)]
    assert ended == [EndReason.HIJACK]
    # ...while the other device's own session runs on, and pc-1 can start a new one.
    assert call(client, "heartbeat", license, hwid="pc-2", session_token=theirs).status_code == 200
    assert call(client, "activate", license, hwid="pc-1").status_code == 200
    events = [record.security_event for _, record in call_records(runtime.ledger.calls.store, 0, 100)]
    assert events.count("session_hijack") == 1


def test_session_lapses_without_heartbeats(client, license, clock):
    token = call(client, "activate", license).json()["data"]["session"]["token"]
    clock.advance(hours=2)
    assert call(client, "heartbeat", license, session_token=token).json()["error_code"] == "SESSION_EXPIRED"


def test_deactivation_frees_the_seat_and_ends_the_session(client, license):
    token = call(client, "activate", license, hwid="one").json()["data"]["session"]["token"]
    assert call(client, "deactivate", license, hwid="one").json()["data"]["deactivated"] is True
    assert call(client, "heartbeat", license, hwid="one", session_token=token).status_code in (401, 403)
    assert call(client, "activate", license, hwid="two").status_code == 200


def test_every_call_is_logged_with_its_outcome(client, vendor_token, license, runtime):
    call(client, "activate", license, hwid="one")
    call(client, "activate", license, hwid="two")
    call(client, "validate", license, hwid="one")
    settle(runtime)
    logs = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(vendor_token)).json()["data"]["logs"]
    calls = [(log["action"], log["success"], log["error_code"], log["hwid"]) for log in logs
             if log["action"] in ("activation", "validation")]
    assert calls == [("validation", True, None, "one"), ("activation", False, "HWID_MISMATCH", "two"),
                     ("activation", True, None, "one")]
    assert logs[0]["ip_address"] and "user_agent" in logs[0]


def test_bad_client_input_is_a_400_that_changes_nothing(client, license, runtime):
    before = runtime.ledger.position()
    bodies = [
        {"license_key": license["license_key"], "product_id": license["product_id"]},
        {"license_key": license["license_key"], "hwid": "x" * 300, "product_id": license["product_id"]},
        {"license_key": license["license_key"], "hwid": "h", "product_id": "nope"},
        [1, 2],
    ]
    for body in bodies:
        response = client.post("/api/client/activate", json=body)
        assert response.status_code == 400, body
        assert response.json()["success"] is False and response.json()["error_code"] == "VALIDATION_ERROR"
    assert runtime.ledger.position() == before
