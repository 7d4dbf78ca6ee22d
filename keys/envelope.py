"""The spec's encryption envelope: AES-256-GCM body, HMAC-SHA256 over `iv:data:tag:timestamp`.

key = SHA-256(secret key, UTF-8); iv = 16 random bytes; data = ciphertext and tag = the 16-byte
GCM tag, all hex; signature = hex HMAC-SHA256(secret key, f"{iv}:{data}:{tag}:{timestamp}") over
the hex strings exactly as sent; timestamp = milliseconds since the epoch. The plaintext is the
whole JSON request (or answer) body.

`open_envelope` checks in a fixed order, cheapest and least revealing first: shape, then the
HMAC (so nobody without the secret learns anything further), then the ±5 minute window, then
GCM, then the plaintext. Replays inside the window are the caller's job: it keeps `replay_key`
values in a shared cache for longer than the window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IV_BYTES = 16
TAG_BYTES = 16
MAX_SKEW_MS = 300_000
_HEX = re.compile(r"[0-9a-fA-F]*")


class EnvelopeError(ValueError):
    """Raised when an encrypted request cannot be accepted; `security_event_type` names the security event."""

    security_event_type = "tamper_detected"


class MalformedEnvelopeError(EnvelopeError):
    """Raised when a field is missing, of the wrong type or not well-formed hex, or the plaintext is no JSON object.

    Recorded as `tamper_detected`: every SDK writes well-formed envelopes, so a malformed one is
    a hand-made request or a damaged one, and the vendor wants to see either.
    """


class TamperedEnvelopeError(EnvelopeError):
    """Raised when the HMAC is wrong (altered field, wrong secret) or the GCM tag does not verify."""


class StaleEnvelopeError(EnvelopeError):
    """Raised when the timestamp is more than the allowed skew in the past or the future."""

    security_event_type = "replay_attack"


def envelope_key(secret_key: str) -> bytes:
    """The AES-256 key: SHA-256 of the product's secret key string."""
    return hashlib.sha256(secret_key.encode("utf-8")).digest()


def envelope_signature(secret_key: str, iv: str, data: str, tag: str, timestamp: int) -> str:
    message = f"{iv}:{data}:{tag}:{timestamp}".encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def seal_envelope(
    secret_key: str, product_id: str, payload: dict[str, Any], now_ms: int, iv: bytes | None = None
) -> dict[str, Any]:
    """Encrypt `payload` as compact, key-sorted JSON. Pass `iv` only to reproduce a test vector."""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(iv) != IV_BYTES:
        raise ValueError(f"the iv must be {IV_BYTES} bytes")
    sealed = AESGCM(envelope_key(secret_key)).encrypt(iv, _json_bytes(payload), None)
    iv_hex, data_hex, tag_hex = iv.hex(), sealed[:-TAG_BYTES].hex(), sealed[-TAG_BYTES:].hex()
    return {
        "encrypted": True,
        "iv": iv_hex,
        "data": data_hex,
        "tag": tag_hex,
        "signature": envelope_signature(secret_key, iv_hex, data_hex, tag_hex, now_ms),
        "product_id": product_id,
        "timestamp": now_ms,
    }


def open_envelope(
    secret_key: str, envelope: dict[str, Any], now_ms: int, max_skew_ms: int = MAX_SKEW_MS
) -> dict[str, Any]:
    """The decrypted JSON object, or an EnvelopeError subclass saying why not (see the module docstring)."""
    iv, data, tag, signature, timestamp = _fields(envelope)
    expected = envelope_signature(secret_key, iv, data, tag, timestamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("ascii")):
        raise TamperedEnvelopeError("The request signature does not match")
    if abs(now_ms - timestamp) > max_skew_ms:
        raise StaleEnvelopeError("The request timestamp is outside the allowed window")
    try:
        plaintext = AESGCM(envelope_key(secret_key)).decrypt(bytes.fromhex(iv), bytes.fromhex(data + tag), None)
    except InvalidTag:
        raise TamperedEnvelopeError("The request does not decrypt") from None
    return _json_object(plaintext)


def replay_key(envelope: dict[str, Any]) -> str:
    """SHA-256 of `iv:signature` (lower-cased): the same request sent twice has the same key."""
    iv, signature = envelope.get("iv"), envelope.get("signature")
    if not isinstance(iv, str) or not isinstance(signature, str):
        raise MalformedEnvelopeError("The request has no iv or signature")
    return hashlib.sha256(f"{iv.lower()}:{signature.lower()}".encode("utf-8")).hexdigest()


def _fields(envelope: Any) -> tuple[str, str, str, str, int]:
    if not isinstance(envelope, dict) or envelope.get("encrypted") is not True:
        raise MalformedEnvelopeError("The request is not an encrypted envelope")
    iv = _hex_field(envelope, "iv", IV_BYTES * 2)
    data = _hex_field(envelope, "data", None)
    tag = _hex_field(envelope, "tag", TAG_BYTES * 2)
    signature = _hex_field(envelope, "signature", 64)
    timestamp = envelope.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedEnvelopeError("The request timestamp must be an integer of milliseconds")
    return iv, data, tag, signature, timestamp


def _hex_field(envelope: dict[str, Any], name: str, length: int | None) -> str:
    value = envelope.get(name)
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise MalformedEnvelopeError(f"The request field {name!r} must be a hex string")
    if len(value) % 2 or (length is not None and len(value) != length):
        raise MalformedEnvelopeError(f"The request field {name!r} has the wrong length")
    return value


def _json_bytes(payload: dict[str, Any]) -> bytes:
    """Sorted keys so a fixed iv gives a fixed ciphertext; Python's float repr so Python reads back the same float."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _json_object(plaintext: bytes) -> dict[str, Any]:
    """Strict JSON: valid UTF-8, no NaN or Infinity, no lone surrogate escapes (no database can store them)."""
    try:
        payload = msgspec.json.decode(plaintext)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        raise MalformedEnvelopeError("The request plaintext is not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedEnvelopeError("The request plaintext is not a JSON object")
    return payload

