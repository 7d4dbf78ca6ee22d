"""The envelopes the published LicenseCM SDKs build: another AES key (the secret's first 32 bytes) and, for
some, another nonce. Each opens, in at most two decryptions, and none opens without the secret."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import aead

from keys import envelope as envelope_module
from keys.envelope import (
    DOCUMENTED,
    PREFIX,
    PREFIX_FIRST_12,
    PREFIX_SPACE,
    StaleEnvelopeError,
    TamperedEnvelopeError,
    derivations_for,
    envelope_key,
    open_envelope,
    open_envelope_as,
    seal_envelope,
)

SECRET = "sk_live_000102030405060708090a0b0c0d0e0f1011121314151617"
NOW_MS = 1704067200000
BODY = {"license_key": "ABCD-EFGH-JKMN-PQRS", "hwid": "0" * 64, "product_id": "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b",
        "client_data": {"platform": "linux", "vm_indicators": []}}


def sdk_envelope(secret: str, key: bytes, iv: bytes, nonce: bytes, body: dict[str, Any] = BODY,
                 timestamp: int = NOW_MS) -> dict[str, Any]:
    """An envelope as an SDK builds it: its own AES key and nonce, the HMAC keyed with the whole secret."""
    import json

    sealed = aead.AESGCM(key).encrypt(nonce, json.dumps(body).encode(), None)
    iv_hex, data, tag = iv.hex(), sealed[:-16].hex(), sealed[-16:].hex()
    signature = hmac.new(secret.encode(), f"{iv_hex}:{data}:{tag}:{timestamp}".encode(), hashlib.sha256).hexdigest()
    return {"encrypted": True, "iv": iv_hex, "data": data, "tag": tag, "signature": signature,
            "product_id": BODY["product_id"], "timestamp": timestamp}


def cut(secret: str, pad: bytes = b"\0") -> bytes:
    return secret.encode()[:32].ljust(32, pad)


IV16 = bytes(range(16))
SDKS = {  # how each SDK that can encrypt builds its key and nonce (REPORT.md section 5)
    "node, python, java, php": lambda secret: sdk_envelope(secret, cut(secret), IV16, IV16),
    "go (16 sent, 12 used)": lambda secret: sdk_envelope(secret, cut(secret), IV16, IV16[:12]),
    "rust (12)": lambda secret: sdk_envelope(secret, cut(secret), IV16[:12], IV16[:12]),
}


@pytest.mark.parametrize("sdk", SDKS)
def test_every_sdk_envelope_opens_for_a_product_in_compatibility_mode(sdk: str):
    opened = open_envelope_as(SECRET, SDKS[sdk](SECRET), NOW_MS, licensecm_first=True)
    assert opened.payload == BODY and opened.derivation.key == "prefix"


@pytest.mark.parametrize("sdk", ["node, python, java, php", "rust (12)"])
def test_sdk_envelopes_other_than_gos_open_for_a_default_product(sdk: str):
    assert open_envelope(SECRET, SDKS[sdk](SECRET), NOW_MS) == BODY


def test_gos_envelope_would_be_a_third_try_for_a_default_product_and_is_refused():
    with pytest.raises(TamperedEnvelopeError, match="does not decrypt"):
        open_envelope(SECRET, SDKS["go (16 sent, 12 used)"](SECRET), NOW_MS)


def test_our_own_envelope_opens_first_for_a_default_product():
    envelope = seal_envelope(SECRET, BODY["product_id"], BODY, NOW_MS)
    assert open_envelope_as(SECRET, envelope, NOW_MS, licensecm_first=False).derivation == DOCUMENTED


def test_a_short_secret_is_padded_with_nul_or_with_spaces_for_a_12_byte_iv():
    short = "legacy-secret"
    nul = sdk_envelope(short, cut(short), IV16[:12], IV16[:12])
    spaces = sdk_envelope(short, cut(short, b" "), IV16[:12], IV16[:12])

    assert open_envelope_as(short, nul, NOW_MS, licensecm_first=True).derivation == PREFIX
    assert open_envelope_as(short, spaces, NOW_MS, licensecm_first=True).derivation == PREFIX_SPACE


@pytest.mark.parametrize(("secret", "iv_bytes", "licensecm_first", "expected"), [
    (SECRET, 16, False, (DOCUMENTED, PREFIX)),
    (SECRET, 16, True, (PREFIX, PREFIX_FIRST_12)),
    (SECRET, 12, False, (PREFIX,)),
    (SECRET, 12, True, (PREFIX,)),
    ("short", 12, True, (PREFIX, PREFIX_SPACE)),
    ("short", 16, False, (DOCUMENTED, PREFIX)),
])
def test_never_more_than_two_ways_are_tried(secret, iv_bytes, licensecm_first, expected):
    assert derivations_for(secret, iv_bytes, licensecm_first) == expected


@pytest.mark.parametrize("licensecm_first", [False, True])
@pytest.mark.parametrize("iv_bytes", [12, 16])
def test_an_envelope_that_opens_no_way_costs_at_most_two_decryptions(monkeypatch, licensecm_first, iv_bytes):
    attempts: list[int] = []

    class CountingAESGCM:
        def __init__(self, key: bytes) -> None:
            self.aesgcm = aead.AESGCM(key)

        def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
            attempts.append(len(nonce))
            return self.aesgcm.decrypt(nonce, data, associated_data)

    monkeypatch.setattr(envelope_module, "AESGCM", CountingAESGCM)
    wrong_key = os.urandom(32)  # the HMAC holds (the sender has the secret), no derivation opens it
    envelope = sdk_envelope("short" if iv_bytes == 12 else SECRET, wrong_key, IV16[:iv_bytes], IV16[:iv_bytes])

    with pytest.raises(TamperedEnvelopeError, match="does not decrypt"):
        open_envelope_as("short" if iv_bytes == 12 else SECRET, envelope, NOW_MS, licensecm_first)
    assert 1 <= len(attempts) <= 2


@pytest.mark.parametrize("sdk", SDKS)
def test_without_the_secret_no_derivation_is_even_tried(monkeypatch, sdk: str):
    attempts: list[bytes] = []
    monkeypatch.setattr(envelope_module, "AESGCM", lambda key: attempts.append(key))  # type: ignore[arg-type]
    forged = SDKS[sdk]("sk_live_" + "f" * 48)  # built and signed with another secret

    with pytest.raises(TamperedEnvelopeError, match="signature"):
        open_envelope_as(SECRET, forged, NOW_MS, licensecm_first=True)
    assert attempts == []


@pytest.mark.parametrize("sdk", SDKS)
def test_a_stale_sdk_envelope_is_stale_whichever_way_it_would_open(sdk: str):
    envelope = SDKS[sdk](SECRET)
    with pytest.raises(StaleEnvelopeError):
        open_envelope_as(SECRET, envelope, NOW_MS + 6 * 60 * 1000, licensecm_first=True)


def go_and_rust_open(key: bytes, sealed: dict[str, Any]) -> bytes | None:
    """How Go and Rust open an answer: the first 12 bytes of its iv as the nonce."""
    from cryptography.exceptions import InvalidTag

    try:
        return aead.AESGCM(key).decrypt(bytes.fromhex(sealed["iv"])[:12],
                                        bytes.fromhex(sealed["data"] + sealed["tag"]), None)
    except InvalidTag:
        return None


@pytest.mark.parametrize("key", [PREFIX, DOCUMENTED])
def test_an_answer_with_a_12_byte_iv_opens_the_way_every_sdk_opens_it(key):
    sealed = seal_envelope(SECRET, BODY["product_id"], {"success": True}, NOW_MS, key=key, iv_bytes=12)

    # Check Go's and Rust's way opens it, and so does the iv as sent (Node, Python, Java, PHP).
    assert len(bytes.fromhex(sealed["iv"])) == 12
    assert go_and_rust_open(envelope_key(SECRET, key), sealed) == b'{"success":true}'
    assert aead.AESGCM(envelope_key(SECRET, key)).decrypt(
        bytes.fromhex(sealed["iv"]), bytes.fromhex(sealed["data"] + sealed["tag"]), None) == b'{"success":true}'


def test_an_answer_with_a_16_byte_iv_does_not_open_for_go_or_rust():
    sealed = seal_envelope(SECRET, BODY["product_id"], {"success": True}, NOW_MS, key=PREFIX)
    assert go_and_rust_open(envelope_key(SECRET, PREFIX), sealed) is None
