"""Statistics answers."""

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
