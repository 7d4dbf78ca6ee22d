"""Answer signing over canonical JSON, key files and ids, and device watermarks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from keys.canonical import _write, canonical_json
from keys.signing import (
    SigningKey,
    generate_ed25519_private_pem,
    generate_rsa_private_pem,
    key_id,
    load_or_create_signing_key,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign,
    sign_answer,
    signing_key_from_pem,
    verify,
    verify_answer,
)
from keys.watermark import trace_watermark, watermark

MASTER_KEY = bytes(range(32))
LICENSE_ID = "6f1c2a4e-0b7d-4c3e-9a8f-2d5e6f708192"


@pytest.fixture(scope="module")
def rsa_pem() -> bytes:
    """RSA-4096 generation takes about a second: once per module."""
    return generate_rsa_private_pem()


@pytest.fixture(scope="module")
def keys(rsa_pem: bytes) -> dict[str, SigningKey]:
    return {"rsa-4096": signing_key_from_pem(rsa_pem), "ed25519": signing_key_from_pem(generate_ed25519_private_pem())}


ALGORITHMS = ["rsa-4096", "ed25519"]


def an_answer(key: SigningKey) -> dict[str, Any]:
    return {
        "valid": True,
        "license": {"type": "subscription", "expires_at": "2026-12-31T23:59:59.000000Z", "metadata": {"seats": 3}},
        "watermark": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "timestamp": "2026-01-15T12:00:00.000000Z",
        "nonce": "client-nonce-1",
        "key_id": key.key_id,
    }


# Canonical JSON


def test_canonical_json_sorts_keys_drops_spaces_and_writes_utf8():
    document = {"b": [1, True, None], "a": {"z": "é", "y": "line\nbreak"}}

    encoded = canonical_json(document)

    # Check the exact bytes: sorted at every level, no whitespace, raw UTF-8, JSON escapes.
    assert encoded == '{"a":{"y":"line\\nbreak","z":"é"},"b":[1,true,null]}'.encode()


def test_canonical_json_equals_sorted_compact_json_dumps_for_ordinary_answers(keys: dict[str, SigningKey]):
    answer = an_answer(keys["ed25519"])

    # Check any language's "sorted keys, compact, UTF-8" serializer gives the same bytes for an answer.
    assert canonical_json(answer) == json.dumps(
        answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JSON_KEYS = st.text(max_size=6) | st.text(alphabet="a\u00e9\ufffd\U0001f600", max_size=3)  # where UTF-16 order differs
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(JSON_KEYS, inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_fast_path_writes_the_same_bytes_as_the_rfc_writer(value: Any):
    # Check the msgspec shortcut, taken for float-free ASCII-keyed values, never changes a byte.
    try:
        general = _write(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: refused either way
        with pytest.raises(UnicodeEncodeError):
            canonical_json(value)
        return
    assert canonical_json(value) == general


@pytest.mark.parametrize(
    ("number", "written"),
    [(1.0, "1"), (-0.0, "0"), (2.5, "2.5"), (1e-7, "1e-7"), (0.000001, "0.000001"), (1e21, "1e+21"),
     (1e20, "100000000000000000000"), (333333333.3333333, "333333333.3333333"), (5e-324, "5e-324")],
)
def test_canonical_json_writes_floats_as_javascript_does(number: float, written: str):
    # Check the RFC 8785 / JSON.stringify form, so a JavaScript client re-serializes the same bytes.
    assert canonical_json(number) == written.encode()


def test_canonical_json_sorts_keys_by_utf16_code_units_like_javascript():
    # Check U+1F600 (UTF-16 D83D DE00) sorts before U+FFFD, as JS sorts, unlike code-point order.
    assert canonical_json({"\ufffd": 1, "\U0001f600": 2}) == '{"😀":2,"\ufffd":1}'.encode()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"k": float("-inf")}, "\ud800", {1: "int key"}, b"x"])
def test_canonical_json_refuses_what_json_cannot_carry(bad: Any):
    # Check NaN, infinities, lone surrogates, non-string keys and bytes never get signed.
    with pytest.raises((ValueError, TypeError)):
        canonical_json(bad)


# Signatures


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signature_round_trips_with_the_public_key(keys: dict[str, SigningKey], algorithm: str):
    key = keys[algorithm]

    signature = sign(key.private_key, b"message")

    # Check standard base64, accepted by the matching public key and for that message only.
    base64.b64decode(signature, validate=True)
    public_key = load_public_key(key.public_pem)
    assert verify(public_key, b"message", signature)
    assert not verify(public_key, b"messagE", signature)


def test_rsa_signature_verifies_independently_from_the_pem_with_pkcs1v15_sha256(keys: dict[str, SigningKey]):
    key = keys["rsa-4096"]
    answer = an_answer(key)

    answer["signature"] = sign_answer(key.private_key, answer)

    # Check as a client in another language would: PEM only, its own sorted compact JSON, PKCS#1 v1.5.
    public_key = serialization.load_pem_public_key(key.public_pem.encode())
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 4096
    signed = {name: value for name, value in answer.items() if name != "signature"}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public_key.verify(base64.b64decode(answer["signature"]), message, padding.PKCS1v15(), hashes.SHA256())


def test_ed25519_signature_verifies_independently_from_the_pem(keys: dict[str, SigningKey]):
    key = keys["ed25519"]
    answer = an_answer(key)

    answer["signature"] = sign_answer(key.private_key, answer)

    # Check with nothing but the PEM and a plain JSON serializer.
    public_key = serialization.load_pem_public_key(key.public_pem.encode())
    assert isinstance(public_key, ed25519.Ed25519PublicKey)
    signed = {name: value for name, value in answer.items() if name != "signature"}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public_key.verify(base64.b64decode(answer["signature"]), message)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_answer_signature_fails_when_any_field_changes(keys: dict[str, SigningKey], algorithm: str):
    key = keys[algorithm]
    public_key = load_public_key(key.public_pem)
    answer = an_answer(key)
    answer["signature"] = sign_answer(key.private_key, answer)
    assert verify_answer(public_key, answer)

    # Check every top-level change is caught: altered, removed, or a field added.
    for name in [n for n in answer if n != "signature"]:
        assert not verify_answer(public_key, {**answer, name: "changed"}), name
        assert not verify_answer(public_key, {n: v for n, v in answer.items() if n != name}), name
    assert not verify_answer(public_key, {**answer, "extra": 1})
    # Check a change deep inside is caught too.
    nested = json.loads(json.dumps(answer))
    nested["license"]["metadata"]["seats"] = 4
    assert not verify_answer(public_key, nested)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signature_field_is_left_out_of_what_is_signed(keys: dict[str, SigningKey], algorithm: str):
    key = keys[algorithm]
    answer = an_answer(key)

    # Check both schemes are deterministic and ignore a `signature` already present.
    assert sign_answer(key.private_key, answer) == sign_answer(key.private_key, {**answer, "signature": "old"})


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("garbage", ["", "not base64!", "AAAA", None, 12345, b"\x00" * 64, "ä"])
def test_verify_returns_false_for_garbage_and_never_raises(keys: dict[str, SigningKey], algorithm: str, garbage: Any):
    public_key = load_public_key(keys[algorithm].public_pem)

    # Check bad signatures and bad messages both just fail.
    assert verify(public_key, b"message", garbage) is False
    text_message: Any = "not bytes"
    assert verify(public_key, text_message, sign(keys[algorithm].private_key, b"not bytes")) is False
    assert verify_answer(public_key, {"valid": True, "signature": garbage}) is False


def test_a_signature_from_one_key_fails_under_the_other(keys: dict[str, SigningKey]):
    rsa_signature = sign(keys["rsa-4096"].private_key, b"m")
    ed_signature = sign(keys["ed25519"].private_key, b"m")
    other_ed = signing_key_from_pem(generate_ed25519_private_pem())

    # Check no cross-acceptance between algorithms or between two keys of one algorithm.
    assert not verify(load_public_key(keys["ed25519"].public_pem), b"m", rsa_signature)
    assert not verify(load_public_key(keys["rsa-4096"].public_pem), b"m", ed_signature)
    assert not verify(load_public_key(other_ed.public_pem), b"m", ed_signature)


# Keys, ids and key files


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_key_id_is_sha256_of_the_der_public_key_cut_to_16_hex(keys: dict[str, SigningKey], algorithm: str):
    key = keys[algorithm]

    der = load_public_key(key.public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    # Check the id a client can compute itself, and that it ignores how the PEM is wrapped.
    assert key.key_id == hashlib.sha256(der).hexdigest()[:16] == key_id(key.public_pem.replace("\n", "\r\n"))
    assert key.algorithm == algorithm
    assert key.public_pem.startswith("-----BEGIN PUBLIC KEY-----") and public_key_pem(key.private_key) == key.public_pem


def test_signing_key_is_created_once_with_mode_0600_and_reused(tmp_path: Path):
    path = tmp_path / "keys" / "ed25519.pem"

    first = load_or_create_signing_key(path, "ed25519")
    second = load_or_create_signing_key(path, "ed25519")

    # Check the file is private (0600), PKCS#8, and the second start reads the same key.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (first.key_id, first.algorithm) == (second.key_id, "ed25519")


def test_existing_rsa_key_file_is_loaded_not_regenerated(
    tmp_path: Path, rsa_pem: bytes, keys: dict[str, SigningKey]
):
    path = tmp_path / "rsa-4096.pem"
    path.write_bytes(rsa_pem)

    key = load_or_create_signing_key(path, "rsa-4096")

    # Check the file is untouched and its key is the one in use.
    assert path.read_bytes() == rsa_pem
    assert (key.key_id, key.algorithm) == (keys["rsa-4096"].key_id, "rsa-4096")


def test_key_file_of_the_other_algorithm_is_refused(tmp_path: Path, rsa_pem: bytes):
    path = tmp_path / "ed25519.pem"
    path.write_bytes(rsa_pem)

    # Check a misplaced key fails loudly instead of signing with the wrong algorithm.
    with pytest.raises(ValueError, match="rsa-4096"):
        load_or_create_signing_key(path, "ed25519")
    with pytest.raises(ValueError):
        load_or_create_signing_key(path, "rsa-1024")  # type: ignore[arg-type]


def test_password_protected_key_loads_only_with_its_password():
    pem = generate_ed25519_private_pem(password=b"hunter2")

    # Check the PEM is encrypted and opens with the password.
    assert b"ENCRYPTED" in pem
    with pytest.raises(TypeError):
        load_private_key(pem)
    assert signing_key_from_pem(pem, password=b"hunter2").algorithm == "ed25519"


def test_other_key_types_are_refused():
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    small_rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    # Check only RSA-4096 and Ed25519 are signing keys.
    for pem in (ec_pem, small_rsa_pem):
        with pytest.raises(ValueError, match="unsupported"):
            load_private_key(pem)


# Watermarks


def test_watermark_is_32_hex_and_differs_per_license_and_per_device():
    mark = watermark(MASTER_KEY, LICENSE_ID, "device-a")

    # Check it is HMAC-SHA256(master key, "watermark:<license id>:<hwid>") cut to 32 hex.
    assert mark == hmac.new(MASTER_KEY, f"watermark:{LICENSE_ID}:device-a".encode(), hashlib.sha256).hexdigest()[:32]
    # Check another device, another license or another server key give another watermark.
    assert mark != watermark(MASTER_KEY, LICENSE_ID, "device-b")
    assert mark != watermark(MASTER_KEY, "00000000-0000-4000-8000-000000000000", "device-a")
    assert mark != watermark(bytes(32), LICENSE_ID, "device-a")


def test_a_leaked_watermark_traces_back_to_its_device():
    devices = ["device-a", "device-b", "device-c"]
    leaked = watermark(MASTER_KEY, LICENSE_ID, "device-b")

    # Check the vendor finds the leaking device among the license's devices, whatever the case.
    assert trace_watermark(MASTER_KEY, LICENSE_ID, devices, leaked) == "device-b"
    assert trace_watermark(MASTER_KEY, LICENSE_ID, devices, f" {leaked.upper()}\n") == "device-b"
    # Check an unknown or forged watermark traces to nobody.
    assert trace_watermark(MASTER_KEY, LICENSE_ID, devices, "0" * 32) is None
    assert trace_watermark(MASTER_KEY, LICENSE_ID, ["device-a"], leaked) is None


# The Ed25519 test vector of docs/client-protocol.md (Ed25519 signatures are deterministic).
VECTOR_PRIVATE_PEM = (
    b"-----BEGIN PRIVATE KEY-----\n"
    b"MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n"
    b"-----END PRIVATE KEY-----\n"
)
VECTOR_PUBLIC_PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n"
    "-----END PUBLIC KEY-----\n"
)
VECTOR_ANSWER = {
    "valid": True,
    "license": {"type": "subscription", "expires_at": "2026-12-31T23:59:59.000000Z", "metadata": {}},
    "watermark": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "timestamp": "2024-01-01T00:00:00.000000Z",
    "key_id": "a050837d85070582",
    "nonce": "n-42",
}
VECTOR_MESSAGE = (
    b'{"key_id":"a050837d85070582","license":{"expires_at":"2026-12-31T23:59:59.000000Z","metadata":{},'
    b'"type":"subscription"},"nonce":"n-42","timestamp":"2024-01-01T00:00:00.000000Z","valid":true,'
    b'"watermark":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"}'
)
VECTOR_SIGNATURE = "TASFyd8W/PB/c/k3q3Lxh4oKivvQ+n7qjV9dK6i7hwVu6aA48dbFl/n7knAequRv15U3B/+5SY/W2Q41i/5uDQ=="


def test_ed25519_test_vector_gives_the_pinned_key_id_message_and_signature():
    key = signing_key_from_pem(VECTOR_PRIVATE_PEM)

    signature = sign_answer(key.private_key, VECTOR_ANSWER)

    # Check every documented value: public PEM, key id, signed bytes, signature.
    assert (key.public_pem, key.key_id) == (VECTOR_PUBLIC_PEM, VECTOR_ANSWER["key_id"])
    assert canonical_json(VECTOR_ANSWER) == VECTOR_MESSAGE
    assert signature == VECTOR_SIGNATURE
    assert verify_answer(load_public_key(VECTOR_PUBLIC_PEM), {**VECTOR_ANSWER, "signature": signature})
