"""Every read model KeyLedger maintains, built over one read store."""

from __future__ import annotations

from projections.accounts import AccountListProjection
from projections.base import ProjectionView, ReadModelProjection
from projections.blacklist import BlacklistProjection
from projections.db import ReadStore
from projections.licenses import LicenseListProjection
from projections.license_logs import LicenseChangesProjection
from projections.notifications import NotificationProjection
from projections.products import ProductListProjection
from projections.security_events import SecurityEventsProjection
from projections.sessions import SessionListProjection
from projections.stats import StatsProjection
from projections.timeseries import TimeseriesProjection
from projections.webhooks import WebhookListProjection

PROJECTION_CLASSES: tuple[type[ReadModelProjection], ...] = (
    AccountListProjection,
    ProductListProjection,
    LicenseListProjection,
    LicenseChangesProjection,
    StatsProjection,
    NotificationProjection,
    SessionListProjection,
    WebhookListProjection,
    BlacklistProjection,
    SecurityEventsProjection,
    TimeseriesProjection,
)


def build_projections(store: ReadStore) -> list[ReadModelProjection]:
    projections = [cls(view=ProjectionView(store, cls.name)) for cls in PROJECTION_CLASSES]
    for projection in projections:
        projection.create_tables()
    return projections
