"""Client API requests (LicenseCM `/client/*`) and Lockence requests (`/v1/*`)."""

from typing import Annotated
from uuid import UUID

import msgspec

LicenseKeyText = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Hwid = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Nonce = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
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
