"""Statistics answers."""

from typing import Literal
from uuid import UUID

import msgspec

from api.schemas.common import Instant


class Activity(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    license_id: UUID | None
    license_key: str | None
    product_id: UUID | None
    created_at: Instant


class Dashboard(msgspec.Struct, forbid_unknown_fields=True):
    """A vendor's totals and its latest activity, newest first."""

    total_products: int
    total_licenses: int
    active_licenses: int
    total_activations: int
    recent_activity: list[Activity]


class ProductStats(msgspec.Struct, forbid_unknown_fields=True):
    """One product's licenses by status, and its activations today, in the last 7 and the last 30 days."""

    total_licenses: int
    active_licenses: int
    expired_licenses: int
    suspended_licenses: int
    activations_today: int
    activations_this_week: int
    activations_this_month: int


class TimeseriesBucket(msgspec.Struct, forbid_unknown_fields=True):
    """One UTC hour or day of a product, from `start` (included) to the next bucket's start; all counts 0 when
    nothing happened (docs/read-models.md, `timeseries`)."""

    start: Instant
    validations_succeeded: int
    validations_failed: int
    validation_errors: dict[str, int]
    """Refused validations by error code (`LICENSE_EXPIRED`: 2); they sum to `validations_failed`."""
    activations: int
    deactivations: int
    devices: int
    """Distinct devices (HWIDs) with at least one successful client call in the bucket."""
    licenses_issued: int
    licenses_expired: int
    licenses_suspended: int
    peak_sessions: int
    """The most sessions open at once during the bucket (sessions open from its start included)."""


class ProductTimeseries(msgspec.Struct, forbid_unknown_fields=True):
    """A product's counts per bucket, oldest first, from the bucket holding `from` to the one holding `to`."""

    product_id: UUID
    interval: Literal["hour", "day"]
    from_: Instant = msgspec.field(name="from")
    """The first bucket's start."""
    to: Instant
    """The last bucket's end (exclusive)."""
    buckets: list[TimeseriesBucket]
