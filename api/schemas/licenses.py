"""License requests; responses are the read model's license shape."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from api.schemas.common import Metadata
from domain.license import LicenseType

MaxUses = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Expiry = Annotated[datetime, msgspec.Meta(tz=True)]
Count = Annotated[int, msgspec.Meta(ge=1, le=100)]
Username = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class LicenseCreate(msgspec.Struct, forbid_unknown_fields=True):
    product_id: UUID
    type: LicenseType = LicenseType.SUBSCRIPTION
    max_uses: MaxUses = 1
    hwid_locked: bool = True
    expires_at: Expiry | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)
    username: Username | None = None


class LicenseBulkCreate(LicenseCreate, forbid_unknown_fields=True):
    count: Count = 1


class LicenseUpdate(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["active", "suspended"] | None = None
    max_uses: MaxUses | None = None
    hwid_locked: bool | None = None
    expires_at: Expiry | None | msgspec.UnsetType = msgspec.UNSET
    metadata: Metadata | None = None
    username: Username | None | msgspec.UnsetType = msgspec.UNSET
