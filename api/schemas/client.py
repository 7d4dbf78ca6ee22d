"""Client API requests (LicenseCM `/client/*`) and Lockence requests (`/v1/*`)."""

from typing import Annotated, Literal
from uuid import UUID

import msgspec

LicenseKeyText = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Hwid = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Nonce = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
HexBytes16 = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{32}$")]
Indicators = Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)]


class ClientData(msgspec.Struct, forbid_unknown_fields=True):
    platform: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    os_version: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    vm_indicators: Indicators = msgspec.field(default_factory=list)
    debug_indicators: Indicators = msgspec.field(default_factory=list)


class LicenseCheck(msgspec.Struct, forbid_unknown_fields=True):
    """validate, activate and deactivate."""

    license_key: LicenseKeyText
    hwid: Hwid
    product_id: UUID
    nonce: Nonce | None = None
    client_data: ClientData | None = None


class Heartbeat(msgspec.Struct, forbid_unknown_fields=True):
    license_key: LicenseKeyText
    hwid: Hwid
    product_id: UUID
    session_token: Token
    nonce: Nonce | None = None


class Challenge(msgspec.Struct, forbid_unknown_fields=True):
    """Without `challenge`/`response`: ask for a challenge. With both: answer it."""

    license_key: LicenseKeyText
    hwid: Hwid
    product_id: UUID | None = None
    challenge: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    response: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    nonce: Nonce | None = None


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
    `timestamp` is milliseconds since the Unix epoch (docs/client-protocol.md, section 2)."""

    # Only documented: a body stays a dict until keys/envelope.py opens it (api/client_protocol.py).
    encrypted: Literal[True]
    iv: HexBytes16
    data: Annotated[str, msgspec.Meta(pattern="^(?:[0-9a-fA-F]{2})*$")]
    tag: HexBytes16
    signature: Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$")]
    product_id: UUID
    timestamp: int
