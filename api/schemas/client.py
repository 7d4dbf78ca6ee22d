"""Client API requests (LicenseCM `/client/*`) and Lockence requests (`/v1/*`)."""

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

LicenseKeyText = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Hwid = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Nonce = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
HexBytes16 = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{32}$")]
HexIv = Annotated[str, msgspec.Meta(pattern="^(?:[0-9a-fA-F]{24}|[0-9a-fA-F]{32})$")]
ClientData = Annotated[Any, msgspec.Meta(
    description="The client's environment as its SDK describes it, any JSON (an object, from every SDK) of at most"
                " 16 KiB encoded: kept opaque, except that an object's `vm_indicators` / `debug_indicators` (or"
                " `vmIndicators` / `debugIndicators`), when lists of strings, raise `vm_detected` /"
                " `debug_detected` (docs/licensing-rules.md).")]


class LicenseCheck(msgspec.Struct, forbid_unknown_fields=True):
    """validate, activate and deactivate."""

    license_key: LicenseKeyText
    hwid: Hwid
    product_id: UUID
    nonce: Nonce | None = None
    client_data: ClientData | None = None
    session_token: Token | None = None
    """The LicenseCM SDKs send the session they hold on every call; only a heartbeat needs one."""


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    """Without `session_token`: the live session of this license on this device (docs/client-protocol.md)."""

    license_key: LicenseKeyText
    hwid: Hwid
    product_id: UUID
    session_token: Token | None = None
    nonce: Nonce | None = None
    client_data: ClientData | None = None


class Challenge(msgspec.Struct, forbid_unknown_fields=True):
    """Without `challenge`/`response`: ask for a challenge. With both: answer it."""

    license_key: LicenseKeyText
    hwid: Hwid
    product_id: UUID | None = None
    challenge: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    response: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    nonce: Nonce | None = None


class HwidChallenge(msgspec.Struct, forbid_unknown_fields=True):
    """The LicenseCM SDKs' challenge, from their application: `response` = hex HMAC-SHA256(key = hwid,
    message = challenge)."""

    license_key: LicenseKeyText
    hwid: Hwid
    challenge: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    response: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    product_id: UUID | None = None
    nonce: Nonce | None = None
    client_data: ClientData | None = None
    session_token: Token | None = None


class LockenceInit(msgspec.Struct, forbid_unknown_fields=True):
    api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    license_key: LicenseKeyText
    hwid: Hwid


class LockenceSession(msgspec.Struct, forbid_unknown_fields=True):
    api_key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    session_token: Token


class EncryptedEnvelope(msgspec.Struct, forbid_unknown_fields=True):
    """A request, or its answer, sealed with the product's secret key: `data` and `tag` are AES-256-GCM's
    under SHA-256(secret key), `signature` is the hex HMAC-SHA256(secret key, "iv:data:tag:timestamp"), and
    `timestamp` is milliseconds since the Unix epoch (docs/client-protocol.md, section 2). The LicenseCM SDKs'
    envelopes (the secret's first 32 bytes as the key, a 12-byte iv) open too (docs/migrating-from-licensecm.md)."""

    # Only documented: a body stays a dict until keys/envelope.py opens it (api/client_protocol.py).
    encrypted: Literal[True]
    iv: HexIv
    data: Annotated[str, msgspec.Meta(pattern="^(?:[0-9a-fA-F]{2})*$")]
    tag: HexBytes16
    signature: Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
    product_id: UUID
    timestamp: int
