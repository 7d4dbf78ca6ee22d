"""SecurityAlert aggregate: a security event worth telling someone about, kept in the event store.

Call outcomes (each validation, each refused call) go to the call log; an alert is raised when a
detection rule fires or a block is placed, so projections, webhooks and auditors can follow it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate


class SecurityAlert(Aggregate):
    """Raised once, never changed. `blocked` says whether something was refused or blocked because of it:
    webhooks deliver such alerts as `security.blocked`, the others as `security.alert`."""

    @event("Raised")
    def __init__(self, event_type: str, severity: str, product_id: UUID | None, license_id: UUID | None,
                 ip: str | None, hwid: str | None, blocked: bool, details: dict, at: datetime) -> None:
        self.event_type = event_type
        self.severity = severity
        self.product_id = product_id
        self.license_id = license_id
        self.blocked = blocked
