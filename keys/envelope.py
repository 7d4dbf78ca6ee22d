"""The spec's encryption envelope: AES-256-GCM body, HMAC-SHA256 over `iv:data:tag:timestamp`.

The format is in docs/client-protocol.md ("The encryption envelope"); the LicenseCM SDKs' other AES keys and
nonces, of which `derivations_for` tries at most two, in docs/decisions/0004-licensecm-sdk-compatibility.md.
`open_envelope` checks in a fixed order, cheapest and least revealing first: shape, then the HMAC (so nobody
without the secret learns anything further, nor makes us decrypt anything), then the ±5 minute window, then GCM
under each derivation in turn, then the plaintext. Replays inside the window are the caller's job: it keeps
`replay_key` values in a shared cache for longer than the window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from typing import Any, NamedTuple

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IV_BYTES = 16
SHORT_IV_BYTES = 12
"""GCM's usual nonce: what Rust sends, what Go encrypts with, and all C#'s and Ruby's AES-GCM can take."""
TAG_BYTES = 16
KEY_BYTES = 32
MAX_SKEW_MS = 300_000
_HEX = re.compile(r"[0-9a-fA-F]*")


class EnvelopeError(ValueError):
    """Raised when an encrypted request cannot be accepted; `security_event_type` names the security event."""

    security_event_type = "tamper_detected"


class MalformedEnvelopeError(EnvelopeError):
    """Raised when a field is missing, of the wrong type or not well-formed hex, or the plaintext is no JSON object.
    Recorded as `tamper_detected`: every SDK writes well-formed envelopes, so a malformed one is hand-made or
    damaged, and the vendor wants to see either."""


class TamperedEnvelopeError(EnvelopeError):
    """Raised when the HMAC is wrong (altered field, wrong secret) or the GCM tag does not verify."""


class StaleEnvelopeError(EnvelopeError):
    """Raised when the timestamp is more than the allowed skew in the past or the future."""

    security_event_type = "replay_attack"


class Derivation(NamedTuple):
    """How the AES-256 key and the GCM nonce come from the secret and the iv sent."""

    key: str
    """"sha256": SHA-256 of the secret (documented); "prefix": its first 32 bytes, NUL-padded; "prefix-space":
    the same, padded with spaces (C#)."""
    nonce_bytes: int | None = None
    """None: the iv as sent; 12: its first 12 bytes (Go)."""


DOCUMENTED = Derivation("sha256")
PREFIX = Derivation("prefix")
PREFIX_FIRST_12 = Derivation("prefix", SHORT_IV_BYTES)
PREFIX_SPACE = Derivation("prefix-space")


def derivations_for(secret_key: str, iv_bytes: int, licensecm_first: bool) -> tuple[Derivation, ...]:
    """The ways to try, in order, for an envelope whose iv has `iv_bytes` bytes, never more than two: a 12-byte iv
    (never ours), the secret's prefix NUL-padded, then space-padded if the secret is short; a 16-byte iv, ours then
    the prefix, or with `licensecm_first` the prefix then Go's (docs/decisions/0004-licensecm-sdk-compatibility.md)."""
    if iv_bytes == SHORT_IV_BYTES:
        short = len(secret_key.encode("utf-8")) < KEY_BYTES
        return (PREFIX, PREFIX_SPACE) if short else (PREFIX,)
    return (PREFIX, PREFIX_FIRST_12) if licensecm_first else (DOCUMENTED, PREFIX)


def envelope_key(secret_key: str, derivation: Derivation = DOCUMENTED) -> bytes:
    """The AES-256 key: SHA-256 of the product's secret key string, or (LicenseCM SDKs) its first 32 bytes."""
    if derivation.key == "sha256":
        return hashlib.sha256(secret_key.encode("utf-8")).digest()
    padding = b" " if derivation.key == "prefix-space" else b"\0"
    return secret_key.encode("utf-8")[:KEY_BYTES].ljust(KEY_BYTES, padding)


def envelope_signature(secret_key: str, iv: str, data: str, tag: str, timestamp: int) -> str:
    message = f"{iv}:{data}:{tag}:{timestamp}".encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def seal_envelope(
    secret_key: str, product_id: str, payload: dict[str, Any], now_ms: int, iv: bytes | None = None,
    key: Derivation = DOCUMENTED, iv_bytes: int = IV_BYTES,
) -> dict[str, Any]:
    """Encrypt `payload` as compact, key-sorted JSON under `key`'s AES key with a fresh iv of `iv_bytes` (16, or
    12 for the LicenseCM SDKs). Pass `iv` only to reproduce a test vector."""
    iv = os.urandom(iv_bytes) if iv is None else iv
    if len(iv) not in (IV_BYTES, SHORT_IV_BYTES):
        raise ValueError(f"the iv must be {IV_BYTES} or {SHORT_IV_BYTES} bytes")
    sealed = AESGCM(envelope_key(secret_key, key)).encrypt(iv, _json_bytes(payload), None)
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


class Opened(NamedTuple):
    payload: dict[str, Any]
    derivation: Derivation
    """The way that opened it: its answer is sealed under the same key."""


def open_envelope(
    secret_key: str, envelope: dict[str, Any], now_ms: int, max_skew_ms: int = MAX_SKEW_MS
) -> dict[str, Any]:
    """The decrypted JSON object, opened the ways a KeyLedger product tries (`derivations_for`), or an
    EnvelopeError subclass saying why not (see the module docstring)."""
    return open_envelope_as(secret_key, envelope, now_ms, licensecm_first=False, max_skew_ms=max_skew_ms).payload


def open_envelope_as(secret_key: str, envelope: dict[str, Any], now_ms: int, licensecm_first: bool,
                     max_skew_ms: int = MAX_SKEW_MS) -> Opened:
    """`open_envelope`, saying which derivation opened it."""
    iv, data, tag, signature, timestamp = _fields(envelope)
    expected = envelope_signature(secret_key, iv, data, tag, timestamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("ascii")):
        raise TamperedEnvelopeError("The request signature does not match")
    if abs(now_ms - timestamp) > max_skew_ms:
        raise StaleEnvelopeError("The request timestamp is outside the allowed window")
    nonce, sealed = bytes.fromhex(iv), bytes.fromhex(data + tag)
    for derivation in derivations_for(secret_key, len(nonce), licensecm_first):
        try:
            plaintext = AESGCM(envelope_key(secret_key, derivation)).decrypt(
                nonce[: derivation.nonce_bytes], sealed, None)
        except InvalidTag:
            continue
        return Opened(_json_object(plaintext), derivation)
    raise TamperedEnvelopeError("The request does not decrypt")


def replay_key(envelope: dict[str, Any]) -> str:
    """SHA-256 of `iv:signature` (lower-cased): the same request sent twice has the same key."""
    iv, signature = envelope.get("iv"), envelope.get("signature")
    if not isinstance(iv, str) or not isinstance(signature, str):
        raise MalformedEnvelopeError("The request has no iv or signature")
    return hashlib.sha256(f"{iv.lower()}:{signature.lower()}".encode("utf-8")).hexdigest()


def _fields(envelope: Any) -> tuple[str, str, str, str, int]:
    if not isinstance(envelope, dict) or envelope.get("encrypted") is not True:
        raise MalformedEnvelopeError("The request is not an encrypted envelope")
    iv = _hex_field(envelope, "iv", IV_BYTES * 2, SHORT_IV_BYTES * 2)
    data = _hex_field(envelope, "data", None)
    tag = _hex_field(envelope, "tag", TAG_BYTES * 2)
    signature = _hex_field(envelope, "signature", 64)
    timestamp = envelope.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedEnvelopeError("The request timestamp must be an integer of milliseconds")
    return iv, data, tag, signature, timestamp


def _hex_field(envelope: dict[str, Any], name: str, *lengths: int | None) -> str:
    value = envelope.get(name)
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise MalformedEnvelopeError(f"The request field {name!r} must be a hex string")
    if len(value) % 2 or (None not in lengths and len(value) not in lengths):
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

