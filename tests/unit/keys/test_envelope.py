"""The encryption envelope: a pinned test vector, round trips, and every refusal with its error."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from keys.envelope import (
    EnvelopeError,
    MalformedEnvelopeError,
    StaleEnvelopeError,
    TamperedEnvelopeError,
    envelope_key,
    envelope_signature,
    open_envelope,
    replay_key,
    seal_envelope,
)

# The test vector of docs/client-protocol.md: change one, change both.
SECRET = "sk_live_000102030405060708090a0b0c0d0e0f1011121314151617"
PRODUCT_ID = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"
IV = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
NOW_MS = 1704067200000  # 2024-01-01T00:00:00Z
PAYLOAD = {"license_key": "ABCD-EFGH-IJKL-MNOP", "hwid": "hwid-test-001", "product_id": PRODUCT_ID, "nonce": "n-42"}
VECTOR_KEY = "3205ad3b3a2b485f73b52d4e97bad720627ca48d7e91ca0d75ec36b4284fe525"
VECTOR_PLAINTEXT = (
    b'{"hwid":"hwid-test-001","license_key":"ABCD-EFGH-IJKL-MNOP","nonce":"n-42",'
    b'"product_id":"3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"}'
)
VECTOR_DATA = (
    "a9c36089c577bb8127255cbba73494ce3fed6b289aa976709260474176dfceba27cd9864498a157225b9e8159c91b098"
    "14c1ffd3e880d3046c9c8452306690deb0aed671a88d883a18ada945762578d7942771bc25d749b5ab06367a96ce8723"
    "837e6b52c0833d33ffd319b2aee34b963557636967496fdf2211c137b489cf"
)
VECTOR_TAG = "d70f5b685f2cd4222dc9e0509af653ff"
VECTOR_SIGNATURE = "e0f6088f2b4eda4dbf3625eb37ce85b23f90e16656a5c42ddd75f9970e24d8c3"
SIX_MINUTES_MS = 6 * 60 * 1000


def sealed(now_ms: int = NOW_MS, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return seal_envelope(SECRET, PRODUCT_ID, PAYLOAD if payload is None else payload, now_ms)


def resigned(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The envelope with fields changed and a valid HMAC again: what only a secret holder can make."""
    changed = {**envelope, **changes}
    fields = (changed["iv"], changed["data"], changed["tag"], changed["timestamp"])
    return {**changed, "signature": envelope_signature(SECRET, *fields)}


def flip_one_hex_char(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def test_fixed_test_vector_gives_the_pinned_hex():
    envelope = seal_envelope(SECRET, PRODUCT_ID, PAYLOAD, NOW_MS, iv=IV)

    # Check every intermediate value of the documented vector.
    assert envelope_key(SECRET).hex() == VECTOR_KEY == hashlib.sha256(SECRET.encode()).hexdigest()
    assert json.dumps(PAYLOAD, sort_keys=True, separators=(",", ":")).encode() == VECTOR_PLAINTEXT
    assert len(VECTOR_DATA) == 2 * len(VECTOR_PLAINTEXT)
    assert envelope == {
        "encrypted": True,
        "iv": "000102030405060708090a0b0c0d0e0f",
        "data": VECTOR_DATA,
        "tag": VECTOR_TAG,
        "signature": VECTOR_SIGNATURE,
        "product_id": PRODUCT_ID,
        "timestamp": NOW_MS,
    }


def test_fixed_test_vector_matches_an_independent_computation():
    iv_hex = IV.hex()

    ciphertext_and_tag = AESGCM(hashlib.sha256(SECRET.encode()).digest()).encrypt(IV, VECTOR_PLAINTEXT, None)
    hmac_input = f"{iv_hex}:{VECTOR_DATA}:{VECTOR_TAG}:{NOW_MS}"

    # Check the vector from first principles: GCM output = data || tag, HMAC over the hex strings.
    assert ciphertext_and_tag.hex() == VECTOR_DATA + VECTOR_TAG
    assert hmac.new(SECRET.encode(), hmac_input.encode(), hashlib.sha256).hexdigest() == VECTOR_SIGNATURE


def test_fixed_test_vector_opens_to_its_payload():
    envelope = {"encrypted": True, "iv": IV.hex(), "data": VECTOR_DATA, "tag": VECTOR_TAG,
                "signature": VECTOR_SIGNATURE, "product_id": PRODUCT_ID, "timestamp": NOW_MS}

    # Check what another SDK would send with these inputs opens here.
    assert open_envelope(SECRET, envelope, NOW_MS) == PAYLOAD


def test_sealed_request_opens_to_the_same_payload_with_a_fresh_iv_each_time():
    first, second = sealed(), sealed()

    # Check the round trip, and that two seals never share an iv.
    assert open_envelope(SECRET, first, NOW_MS) == PAYLOAD
    assert first["iv"] != second["iv"] and len(first["iv"]) == 32 and len(first["tag"]) == 32


def test_upper_case_hex_from_a_client_is_accepted():
    envelope = sealed()
    upper = resigned(envelope, iv=envelope["iv"].upper(), data=envelope["data"].upper(), tag=envelope["tag"].upper())

    # Check the HMAC covers the strings as sent, and the signature may be upper case too.
    assert open_envelope(SECRET, {**upper, "signature": upper["signature"].upper()}, NOW_MS) == PAYLOAD


@pytest.mark.parametrize("field", ["data", "tag", "iv"])
def test_one_flipped_hex_char_is_refused_as_tampering(field: str):
    envelope = sealed()

    # Check the HMAC catches it before anything is decrypted.
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(SECRET, {**envelope, field: flip_one_hex_char(envelope[field])}, NOW_MS)


@pytest.mark.parametrize("field", ["data", "tag", "iv"])
def test_tampering_behind_a_valid_hmac_is_refused_by_gcm(field: str):
    envelope = sealed()

    # Check GCM's own tag check refuses altered ciphertext even with a correct HMAC.
    with pytest.raises(TamperedEnvelopeError, match="decrypt"):
        open_envelope(SECRET, resigned(envelope, **{field: flip_one_hex_char(envelope[field])}), NOW_MS)


def test_wrong_secret_is_refused_as_tampering():
    envelope = sealed()

    # Check another product's secret neither authenticates nor decrypts.
    with pytest.raises(TamperedEnvelopeError) as refused:
        open_envelope("sk_live_other", envelope, NOW_MS)
    assert refused.value.security_event_type == "tamper_detected"


@pytest.mark.parametrize("change", [1, -1, SIX_MINUTES_MS])
def test_changed_timestamp_is_refused_as_tampering(change: int):
    envelope = sealed()

    # Check the timestamp is covered by the HMAC: moving it, even into the window, breaks it.
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(SECRET, {**envelope, "timestamp": NOW_MS + change}, NOW_MS)


@pytest.mark.parametrize("offset", [-SIX_MINUTES_MS, SIX_MINUTES_MS])
def test_request_six_minutes_old_or_ahead_is_refused_as_stale(offset: int):
    envelope = sealed(now_ms=NOW_MS + offset)

    # Check both directions of the ±5 minute window, recorded as a replay attack.
    with pytest.raises(StaleEnvelopeError) as refused:
        open_envelope(SECRET, envelope, NOW_MS)
    assert refused.value.security_event_type == "replay_attack"


@pytest.mark.parametrize("offset", [-300_000, 300_000])
def test_request_exactly_five_minutes_off_is_still_accepted(offset: int):
    # Check the window's edges are inclusive.
    assert open_envelope(SECRET, sealed(now_ms=NOW_MS + offset), NOW_MS) == PAYLOAD


def test_a_stale_request_with_a_bad_hmac_is_reported_as_tampering():
    envelope = sealed(now_ms=NOW_MS - SIX_MINUTES_MS)

    # Check the HMAC comes before the clock: forged requests never reach the time check.
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(SECRET, {**envelope, "signature": "0" * 64}, NOW_MS)


VALID = sealed()
MALFORMED = {
    "iv missing": {k: v for k, v in VALID.items() if k != "iv"},
    "data missing": {k: v for k, v in VALID.items() if k != "data"},
    "tag missing": {k: v for k, v in VALID.items() if k != "tag"},
    "signature missing": {k: v for k, v in VALID.items() if k != "signature"},
    "timestamp missing": {k: v for k, v in VALID.items() if k != "timestamp"},
    "encrypted missing": {k: v for k, v in VALID.items() if k != "encrypted"},
    "encrypted false": {**VALID, "encrypted": False},
    "iv not hex": {**VALID, "iv": "zz" + VALID["iv"][2:]},
    "iv as bytes": {**VALID, "iv": bytes(16)},
    "iv 14 bytes": {**VALID, "iv": VALID["iv"][:28]},
    "iv 20 bytes": {**VALID, "iv": VALID["iv"] + "00000000"},
    "data not hex": {**VALID, "data": "not hex!"},
    "data odd length": {**VALID, "data": VALID["data"][:-1]},
    "data a number": {**VALID, "data": 1234},
    "tag truncated": {**VALID, "tag": VALID["tag"][:30]},
    "tag with spaces": {**VALID, "tag": " " + VALID["tag"][1:]},
    "signature not hex": {**VALID, "signature": "g" * 64},
    "signature too short": {**VALID, "signature": VALID["signature"][:62]},
    "timestamp a string": {**VALID, "timestamp": str(NOW_MS)},
    "timestamp a float": {**VALID, "timestamp": float(NOW_MS)},
    "timestamp a boolean": {**VALID, "timestamp": True},
    "timestamp null": {**VALID, "timestamp": None},
}


@pytest.mark.parametrize("envelope", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_refused_before_any_check(envelope: dict[str, Any]):
    # Check shape errors have their own error type, still a security event.
    with pytest.raises(MalformedEnvelopeError) as refused:
        open_envelope(SECRET, envelope, NOW_MS)
    assert refused.value.security_event_type == "tamper_detected"


@pytest.mark.parametrize("not_an_envelope", [None, [], "encrypted", 42])
def test_something_other_than_an_object_is_malformed(not_an_envelope: Any):
    # Check it fails as a MalformedEnvelopeError, not an AttributeError.
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(SECRET, not_an_envelope, NOW_MS)  # type: ignore[arg-type]


@pytest.mark.parametrize("plaintext", [b"[1,2,3]", b'"text"', b"not json", b"\xff\xfe", b'{"x":NaN}', b""])
def test_authentic_plaintext_that_is_not_a_json_object_is_malformed(plaintext: bytes):
    sealed_bytes = AESGCM(envelope_key(SECRET)).encrypt(IV, plaintext, None)
    envelope = resigned({**VALID, "iv": IV.hex(), "data": sealed_bytes[:-16].hex(), "tag": sealed_bytes[-16:].hex()})

    # Check the body must be a JSON object, even from someone holding the secret.
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(SECRET, envelope, NOW_MS)


def test_every_envelope_error_is_a_value_error_with_a_security_event():
    # Check callers can catch one type and always read an event name.
    for error in (MalformedEnvelopeError, TamperedEnvelopeError, StaleEnvelopeError):
        assert issubclass(error, EnvelopeError) and issubclass(error, ValueError)
        assert error("x").security_event_type in {"tamper_detected", "replay_attack"}


def test_replay_key_is_the_same_for_a_resent_request_and_differs_otherwise():
    envelope = sealed()

    resent = dict(envelope)
    upper_cased = {**envelope, "signature": envelope["signature"].upper()}

    # Check the cache key ignores hex case (both spellings open) and separates distinct requests.
    assert replay_key(envelope) == replay_key(resent) == replay_key(upper_cased)
    assert replay_key(envelope) == hashlib.sha256(f"{envelope['iv']}:{envelope['signature']}".encode()).hexdigest()
    assert replay_key(envelope) != replay_key(sealed())
    with pytest.raises(MalformedEnvelopeError):
        replay_key({"iv": None})


@pytest.mark.parametrize("length", [8, 14, 20])
def test_seal_refuses_an_iv_that_is_neither_16_nor_12_bytes(length: int):
    # Check no one seals with a short or long iv by mistake.
    with pytest.raises(ValueError):
        seal_envelope(SECRET, PRODUCT_ID, PAYLOAD, NOW_MS, iv=bytes(length))


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"))
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=10), children, max_size=5),
    max_leaves=10,
)


@given(payload=st.dictionaries(st.text(st.characters(codec="utf-8")), JSON_VALUES, max_size=6))
def test_any_json_object_survives_seal_then_open(payload: dict[str, Any]):
    # Check open(seal(x)) == x for arbitrary JSON objects, floats and huge integers included.
    assert open_envelope(SECRET, seal_envelope(SECRET, PRODUCT_ID, payload, NOW_MS), NOW_MS) == payload
