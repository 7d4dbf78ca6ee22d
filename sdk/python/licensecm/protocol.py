"""The wire protocol, with no network in it: canonical JSON, answer signatures, the envelope.

Everything here is checked against the test vectors in KeyLedger's
``docs/client-protocol.md`` and can be used on its own, e.g. to verify a stored answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Dict, Optional, Union

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "BOUND_FIELDS", "EnvelopeError", "MAX_SKEW_MS", "PublicKey", "answer_message", "canonical_json",
    "challenge_response", "check_answer", "key_id", "load_public_key", "open_envelope", "seal_envelope",
    "verify_answer_signature",
]

PublicKey = Union[rsa.RSAPublicKey, ed25519.Ed25519PublicKey]
IV_BYTES = 16
TAG_BYTES = 16
MAX_SKEW_MS = 300_000
MIN_RSA_BITS = 2048
_HEX = re.compile(r"[0-9a-fA-F]*")


# --- canonical JSON (RFC 8785) ---------------------------------------------------------------

def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of `value`: sorted keys, no whitespace, UTF-8, ECMAScript numbers.

    For strings, integers, booleans and null this equals
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
    floats are written as JavaScript writes them (``1.0`` -> ``1``, ``1e21`` -> ``1e+21``) and
    keys are sorted by UTF-16 code units. NaN, infinities and lone surrogates raise ValueError.
    """
    return _write(value).encode("utf-8")


def _write(value: Any) -> str:
    if value is None or isinstance(value, bool):  # bool before int: True is an int to Python
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _ecmascript_number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_write(item) for item in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("JSON object keys must be strings")
        keys = sorted(value, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_write(key) + ":" + _write(value[key]) for key in keys) + "}"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _ecmascript_number(value: float) -> str:
    """ECMAScript Number::toString, built from Python's shortest round-trip digits."""
    if not math.isfinite(value):
        raise ValueError("NaN and infinities are not JSON")
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k, n = len(digits), int(exponent) + len(digits)  # value = 0.<digits> x 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return ("-" if sign else "") + text


# --- signed answers --------------------------------------------------------------------------

def load_public_key(pem: Union[str, bytes]) -> PublicKey:
    """A SubjectPublicKeyInfo PEM as served by ``GET /api/client/public-key``: RSA or Ed25519 only."""
    key = serialization.load_pem_public_key(pem.encode("ascii") if isinstance(pem, str) else pem)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return key
    raise ValueError(f"unsupported signing key {type(key).__name__}: only RSA (>= {MIN_RSA_BITS} bits) and Ed25519")


def key_id(key: Union[str, bytes, PublicKey]) -> str:
    """First 16 hex of SHA-256 over the key's DER SubjectPublicKeyInfo (a PEM or a loaded key)."""
    if isinstance(key, (str, bytes)):
        key = load_public_key(key)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def answer_message(data: Dict[str, Any]) -> bytes:
    """What an answer's signature covers: canonical JSON of `data` without ``signature``."""
    return canonical_json({name: value for name, value in data.items() if name != "signature"})


def verify_answer_signature(public_key: PublicKey, data: Any) -> bool:
    """True only when ``data["signature"]`` is a valid signature of `data` by `public_key`."""
    if not isinstance(data, dict) or not isinstance(data.get("signature"), str):
        return False
    try:
        message = answer_message(data)
        signature = base64.b64decode(data["signature"], validate=True)
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, binascii.Error, ValueError, TypeError):
        return False
    return True


#: Request fields a signed answer repeats; each must be there and equal what this client sent.
BOUND_FIELDS = ("product_id", "license_key", "hwid")


def check_answer(public_key: PublicKey, expected_key_id: str, data: Any, *, nonce: str, now: datetime,
                 max_skew_seconds: float, request: Dict[str, Any]) -> Optional[str]:
    """Why a successful answer must be refused, or None when it may be trusted.

    All of: a valid signature by `public_key`, the key id of that key, the `nonce` this request
    sent, a server time within `max_skew_seconds` of `now`, and the product, license key and
    device of `request` (so a genuine answer about something else cannot be passed off as ours).
    """
    if not isinstance(data, dict) or "signature" not in data:
        return "the answer is not signed"
    if not verify_answer_signature(public_key, data):
        return "the answer's signature does not verify"
    if data.get("key_id") != expected_key_id:
        return "the answer names another signing key"
    if data.get("nonce") != nonce:
        return "the answer does not echo this request's nonce (replayed answer?)"
    try:
        server_time = parse_time(data.get("timestamp"))
    except ValueError:
        return "the answer has no valid timestamp"
    if abs((now - server_time).total_seconds()) > max_skew_seconds:
        return "the answer's timestamp is too far from the local clock"
    for name in BOUND_FIELDS:
        if not isinstance(data.get(name), str) or data[name].lower() != str(request.get(name, "")).lower():
            return f"the answer is about another {name}"
    return None


def parse_time(value: Any) -> datetime:
    """An ISO-8601 time with a zone (`Z` or an offset); ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("not a timestamp")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


# --- the encryption envelope -----------------------------------------------------------------

class EnvelopeError(ValueError):
    """An envelope that must not be trusted: malformed, bad HMAC, stale, or failing GCM."""


def _aes_key(secret_key: str) -> bytes:
    return hashlib.sha256(secret_key.encode("utf-8")).digest()


def envelope_hmac(secret_key: str, iv: str, data: str, tag: str, timestamp: int) -> str:
    text = f"{iv}:{data}:{tag}:{timestamp}".encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), text, hashlib.sha256).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def seal_envelope(secret_key: str, product_id: str, body: Dict[str, Any], timestamp_ms: Optional[int] = None,
                  iv: Optional[bytes] = None) -> Dict[str, Any]:
    """Encrypt a request body. Pass `iv` and `timestamp_ms` only to reproduce a test vector."""
    iv = os.urandom(IV_BYTES) if iv is None else iv
    if len(iv) != IV_BYTES:
        raise ValueError(f"the iv must be {IV_BYTES} bytes")
    timestamp = now_ms() if timestamp_ms is None else timestamp_ms
    plaintext = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False).encode("utf-8")
    sealed = AESGCM(_aes_key(secret_key)).encrypt(iv, plaintext, None)
    iv_hex, data_hex, tag_hex = iv.hex(), sealed[:-TAG_BYTES].hex(), sealed[-TAG_BYTES:].hex()
    return {"encrypted": True, "iv": iv_hex, "data": data_hex, "tag": tag_hex,
            "signature": envelope_hmac(secret_key, iv_hex, data_hex, tag_hex, timestamp),
            "product_id": product_id, "timestamp": timestamp}


def open_envelope(secret_key: str, envelope: Any, now: Optional[int] = None,
                  max_skew_ms: int = MAX_SKEW_MS) -> Dict[str, Any]:
    """The decrypted JSON object; EnvelopeError if anything is off (shape, HMAC, clock, GCM, JSON)."""
    if not isinstance(envelope, dict) or envelope.get("encrypted") is not True:
        raise EnvelopeError("not an encrypted envelope")
    iv = _hex_field(envelope, "iv", IV_BYTES * 2)
    data = _hex_field(envelope, "data", None)
    tag = _hex_field(envelope, "tag", TAG_BYTES * 2)
    signature = _hex_field(envelope, "signature", 64)
    timestamp = envelope.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise EnvelopeError("envelope timestamp is not an integer")
    expected = envelope_hmac(secret_key, iv, data, tag, timestamp)
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("ascii")):
        raise EnvelopeError("envelope HMAC does not match")
    if abs((now_ms() if now is None else now) - timestamp) > max_skew_ms:
        raise EnvelopeError("envelope timestamp is outside the allowed clock skew")
    try:
        plaintext = AESGCM(_aes_key(secret_key)).decrypt(bytes.fromhex(iv), bytes.fromhex(data + tag), None)
    except InvalidTag:
        raise EnvelopeError("envelope does not decrypt") from None
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise EnvelopeError("envelope plaintext is not JSON") from None
    if not isinstance(payload, dict):
        raise EnvelopeError("envelope plaintext is not a JSON object")
    return payload


def _hex_field(envelope: Dict[str, Any], name: str, length: Optional[int]) -> str:
    value = envelope.get(name)
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) % 2:
        raise EnvelopeError(f"envelope field {name!r} is not hex")
    if length is not None and len(value) != length:
        raise EnvelopeError(f"envelope field {name!r} has the wrong length")
    return value


# --- challenge-response ----------------------------------------------------------------------

def challenge_response(secret_key: str, challenge: str, license_key: str, hwid: str) -> str:
    """hex HMAC-SHA256(secret key, challenge + license_key + hwid)."""
    message = (challenge + license_key + hwid).encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


