"""Answer signing: RSA-4096 (PKCS#1 v1.5, SHA-256) or Ed25519 over canonical JSON, base64 signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from keys.canonical import canonical_json
from keys.files import load_or_create

Algorithm = Literal["rsa-4096", "ed25519"]
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
RSA_BITS = 4096


@dataclass(frozen=True)
class SigningKey:
    """A loaded signing key with what clients are told about it: its public PEM and key id."""

    private_key: PrivateKey = field(repr=False)
    public_pem: str
    key_id: str
    algorithm: Algorithm


def generate_rsa_private_pem(password: bytes | None = None) -> bytes:
    """A new RSA-4096 key as PKCS#8 PEM (e = 65537). Takes about a second."""
    return _pkcs8_pem(rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS), password)


def generate_ed25519_private_pem(password: bytes | None = None) -> bytes:
    """A new Ed25519 key as PKCS#8 PEM."""
    return _pkcs8_pem(ed25519.Ed25519PrivateKey.generate(), password)


def _pkcs8_pem(key: PrivateKey, password: bytes | None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(pem: bytes, password: bytes | None = None) -> PrivateKey:
    """The key in `pem`; only RSA-4096 and Ed25519 are accepted, so a stray key file fails loudly."""
    # Our own key file (created here, 0600): skipping RSA's slow consistency check saves ~0.5 s per start.
    key = serialization.load_pem_private_key(pem, password, unsafe_skip_rsa_key_validation=True)
    algorithm_of(key)
    return key  # type: ignore[return-value]


def load_public_key(pem: str | bytes) -> PublicKey:
    """The SubjectPublicKeyInfo PEM a client fetched from `GET /api/client/public-key`."""
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    algorithm_of(key)
    return key  # type: ignore[return-value]


def algorithm_of(key: Any) -> Algorithm:
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)) and key.key_size == RSA_BITS:
        return "rsa-4096"
    raise ValueError(f"unsupported signing key: {type(key).__name__}, only RSA-4096 and Ed25519")


def public_key_pem(private_key: PrivateKey) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(public_pem: str | bytes) -> str:
    """First 16 hex of SHA-256 over the DER SubjectPublicKeyInfo: the same key, however its PEM is wrapped."""
    der = load_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def sign(private_key: PrivateKey, message: bytes) -> str:
    """Standard base64 signature: RSASSA-PKCS1-v1_5 with SHA-256, or pure Ed25519."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        raw = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.sign(message)
    else:
        raise TypeError(f"unsupported signing key: {type(private_key).__name__}")
    return base64.b64encode(raw).decode("ascii")


def sign_pkcs1_sha512(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Standard base64 RSASSA-PKCS1-v1_5 signature with SHA-512: what the LicenseCM SDKs verify."""
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA512())).decode("ascii")


def verify(public_key: PublicKey, message: bytes, signature_b64: str) -> bool:
    """True only for a valid signature; any bad message or signature (type, base64, length) is False.

    An unsupported key type is a programming error and raises TypeError.
    """
    if not isinstance(public_key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise TypeError(f"unsupported public key: {type(public_key).__name__}")
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            public_key.verify(raw, message)
    except (InvalidSignature, UnsupportedAlgorithm, binascii.Error, ValueError, TypeError):
        return False
    return True


def answer_message(data: dict[str, Any]) -> bytes:
    """What an answer's signature covers: canonical JSON of `data` without its `signature` field."""
    return canonical_json({name: value for name, value in data.items() if name != "signature"})


def sign_answer(private_key: PrivateKey, data: dict[str, Any]) -> str:
    return sign(private_key, answer_message(data))


def verify_answer(public_key: PublicKey, data: dict[str, Any]) -> bool:
    """Check `data["signature"]` the way a client does; False when it is missing or wrong."""
    if not isinstance(data, dict):
        return False
    try:
        message = answer_message(data)
    except (TypeError, ValueError):
        return False
    return verify(public_key, message, data.get("signature"))  # type: ignore[arg-type]


def signing_key_from_pem(pem: bytes, password: bytes | None = None) -> SigningKey:
    private_key = load_private_key(pem, password)
    public_pem = public_key_pem(private_key)
    return SigningKey(private_key, public_pem, key_id(public_pem), algorithm_of(private_key))


def load_or_create_signing_key(path: Path, algorithm: Algorithm) -> SigningKey:
    """The key at `path`, generated there (0600) on first start; a file of another algorithm raises."""
    generators = {"rsa-4096": generate_rsa_private_pem, "ed25519": generate_ed25519_private_pem}
    if algorithm not in generators:
        raise ValueError(f"unknown signing algorithm {algorithm!r}")
    key = signing_key_from_pem(load_or_create(path, generators[algorithm]))
    if key.algorithm != algorithm:
        raise ValueError(f"{path} holds an {key.algorithm} key, expected {algorithm}")
    return key
