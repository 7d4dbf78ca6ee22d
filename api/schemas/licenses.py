"""License requests and answers."""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

import msgspec

from api.schemas.common import Instant, Metadata, Pagination, check_metadata
from domain.license import LicenseStatus, LicenseTerms, LicenseType

MaxUses = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Expiry = Annotated[datetime, msgspec.Meta(tz=True)]
Count = Annotated[int, msgspec.Meta(ge=1, le=100)]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class LicenseCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A `lifetime` license never expires: it takes no `expires_at`."""

    json_schema_extra: ClassVar[dict[str, Any]] = {"anyOf": [  # that rule, in the OpenAPI document
        {"properties": {"type": {"enum": ["trial", "subscription"]}}}, {"properties": {"expires_at": {"type": "null"}}}]}

    product_id: UUID
    type: LicenseType = LicenseType.SUBSCRIPTION
    max_uses: MaxUses = 1
    hwid_locked: bool = True
    expires_at: Expiry | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)
    username: Username | None = None

    def __post_init__(self) -> None:
        check_metadata(self.metadata)

    def terms(self) -> LicenseTerms:
        return LicenseTerms(license_type=self.type, max_uses=self.max_uses, hwid_locked=self.hwid_locked,
                            expires_at=self.expires_at, metadata=self.metadata, username=self.username)


class LicenseBulkCreate(LicenseCreate, forbid_unknown_fields=True):
    count: Count = 1


class LicenseUpdate(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["active", "suspended"] | None = None
    max_uses: MaxUses | None = None
    hwid_locked: bool | None = None
    expires_at: Expiry | None | msgspec.UnsetType = msgspec.UNSET
    metadata: Metadata | None = None
    username: Username | None | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        check_metadata(self.metadata)


class License(msgspec.Struct, forbid_unknown_fields=True):
    """A license as the vendor sees it; `status` is derived at read time, `hwid` is the first device's."""

    id: UUID
    license_key: str
    product_id: UUID
    type: LicenseType
    status: LicenseStatus
    hwid: str | None
    devices: list[str]
    hwid_locked: bool
    max_uses: int
    current_uses: int
    expires_at: Instant | None
    username: str | None
    metadata: dict[str, Any]
    created_at: Instant
    updated_at: Instant


class LicensePage(msgspec.Struct, forbid_unknown_fields=True):
    licenses: list[License]
    pagination: Pagination


class LicenseBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A bulk issue's answer: every license it issued, in order."""

    created: int
    licenses: list[License]


class LicenseLog(msgspec.Struct, forbid_unknown_fields=True):
    """A change to the license (`id` a UUID; no ip, hwid or user agent) or a client call (`id` `call:<n>`)."""

    id: str
    license_id: UUID
    action: str
    ip_address: str | None
    hwid: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: Instant
    success: bool
    error_code: str | None


class LicenseLogPage(msgspec.Struct, forbid_unknown_fields=True):
    logs: list[LicenseLog]
    pagination: Pagination
