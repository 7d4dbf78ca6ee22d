"""The client API's 200 answers, as the OpenAPI document shows them.

The handlers build these answers as dicts (api/client_protocol.py, api/controllers/lockence.py) and never
encode these Structs; tests/api/test_openapi.py decodes real answers into them, so the document and
what the routes send cannot drift apart unnoticed.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from domain.license import LicenseType
from domain.product import SigningAlgorithm


class LicenseTerms(msgspec.Struct, forbid_unknown_fields=True):
    type: LicenseType
    expires_at: datetime | None
    metadata: dict[str, Any]


class Session(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    expires_at: datetime


class Signed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What binds a signed answer to its question and its time (docs/client-protocol.md section 1); `signature`
    covers every other field of `data`."""

    timestamp: datetime
    key_id: str
    product_id: UUID
    license_key: str
    hwid: str
    nonce: str | msgspec.UnsetType = msgspec.UNSET  # the request's, echoed; absent when it sent none
    signature: str


class Licensed(Signed):
    license: LicenseTerms
    watermark: str


class Validation(Licensed):
    valid: Literal[True]


class ChallengeVerification(Licensed):
    """`/verify-challenge`: the response was right, and the license is valid on this device."""

    valid: Literal[True]
    verified: Literal[True]


class Activation(Licensed):
    activated: Literal[True]
    session: Session


class Deactivation(Signed):
    deactivated: Literal[True]
    current_uses: int


class Renewal(Signed):
    valid: Literal[True]
    expires_at: datetime
    new_token: str | msgspec.UnsetType = msgspec.UNSET  # absent when the heartbeat came without a token


class IssuedChallenge(msgspec.Struct, forbid_unknown_fields=True):
    """Not signed: a client proves itself by answering it."""

    challenge: str
    expires_at: datetime


class PublicKey(msgspec.Struct, forbid_unknown_fields=True):
    public_key: str
    key_id: str
    algorithm: SigningAlgorithm


class Success(msgspec.Struct, forbid_unknown_fields=True):
    """The success envelope (api/envelope.py). Struct options pass to subclasses: every answer forbids
    unknown fields, so a field the document lacks fails the decoding of a real answer."""

    success: Literal[True]


class ValidationAnswer(Success):
    data: Validation


class ChallengeVerificationAnswer(Success):
    data: ChallengeVerification


class ActivationAnswer(Success):
    data: Activation


class DeactivationAnswer(Success):
    data: Deactivation


class RenewalAnswer(Success):
    data: Renewal


class IssuedChallengeAnswer(Success):
    data: IssuedChallenge


class PublicKeyAnswer(Success):
    data: PublicKey


class LockenceAnswer(Success):
    """Lockence answers flat, without `data`."""

    message: str


class LockenceSessionAnswer(LockenceAnswer):
    username: str
    metadata: dict[str, Any]


class LockenceTokenAnswer(LockenceSessionAnswer):
    session_token: str
    expires_at: datetime
