"""SecurityAlert aggregate: a security event worth telling someone about, kept in the event store.

Call outcomes (each validation, each refused call) go to the call log; an alert is raised when a
detection rule fires or a block is placed, so projections, webhooks and auditors can follow it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate

from domain.security_events import SEVERITY_LEVELS, severity_of

CALL_ALERTS = UUID("0b4f3c86-5a51-4d8e-a3c2-7de1f95a2c61")
"""The uuid5 namespace of alerts raised for client calls: an alert's id is derived from its call."""
ALERT_SEVERITY = "medium"
"""The least severity a client call's detection must have to raise an alert: the three call types (`info`) and
`ip_mismatch` (`low`) stay in the call log only, so ordinary traffic never reaches the event store."""
ALERTED_WHERE_DECIDED = frozenset({"rate_limit_exceeded", "brute_force"})
"""Detections whose alerts are raised where they are decided (api/ratelimit.py, api/abuse.py), not from calls."""


def alerts_for_call(event_type: str) -> bool:
    """Whether a client call recorded as `event_type` raises a SecurityAlert."""
    return (event_type not in ALERTED_WHERE_DECIDED
            and SEVERITY_LEVELS.index(severity_of(event_type)) >= SEVERITY_LEVELS.index(ALERT_SEVERITY))


def call_alert_id(call_position: int, event_type: str) -> UUID:
    """The id of the alert a call raises for `event_type`: the same however often the call is read."""
    return uuid5(CALL_ALERTS, f"{call_position}:{event_type}")


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

    @classmethod
    def for_call(cls, call_position: int, event_type: str, product_id: UUID | None, license_id: UUID | None,
                 ip: str | None, hwid: str | None, blocked: bool, details: dict, at: datetime) -> SecurityAlert:
        """The alert of one client call's detection, under the id derived from the call (`call_alert_id`)."""
        return cls._create(cls.Raised, id=call_alert_id(call_position, event_type), event_type=event_type,
                           severity=severity_of(event_type), product_id=product_id, license_id=license_id, ip=ip,
                           hwid=hwid, blocked=blocked, details=details, at=at)
