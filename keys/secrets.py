"""Secrets at rest: product secret keys (and other secrets) sealed with the master key, and their lookup ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _secrets
from dataclasses import dataclass, field
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_PREFIX = "sk_live_"


def new_master_key() -> bytes:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256))


def decode_master_key(text: bytes | str) -> bytes:
    raw = base64.urlsafe_b64decode(text.strip() if isinstance(text, bytes) else text.strip().encode())
    if len(raw) != 32:
        raise ValueError("the master key must be 32 bytes, urlsafe-base64 encoded")
    return raw


def new_product_secret() -> str:
    return SECRET_PREFIX + _secrets.token_hex(24)


def seal(master_key: bytes, plaintext: str, purpose: str) -> str:
    """AES-256-GCM encrypt, bound to `purpose` (associated data) so a sealed value can't be swapped."""
    nonce = os.urandom(12)
    sealed = AESGCM(master_key).encrypt(nonce, plaintext.encode(), purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(master_key: bytes, token: str, purpose: str) -> str:
    raw = base64.urlsafe_b64decode(token.encode())
    return AESGCM(master_key).decrypt(raw[:12], raw[12:], purpose.encode()).decode()


@dataclass(frozen=True)
class Sealer:
    """`seal` and `unseal` under one master key, for whoever must not hold the key itself."""

    master_key: bytes = field(repr=False)

    def seal(self, plaintext: str, purpose: str) -> str:
        return seal(self.master_key, plaintext, purpose)

    def unseal(self, token: str, purpose: str) -> str:
        return unseal(self.master_key, token, purpose)


def lookup_id(master_key: bytes, namespace: str, secret: str) -> UUID:
    """A stable id for a secret that reveals nothing about it (HMAC, not a bare hash)."""
    digest = hmac.new(master_key, f"{namespace}:{secret}".encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)
