"""Client-call outcomes: one immutable record per call, appended and never loaded by commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

MAX_HWID = 256


@dataclass(frozen=True)
class ClientRequest:
    """What a client call presents: the key, the product, the device and where it came from."""

    license_key: str
    product_id: UUID | None
    hwid: str | None
    ip: str | None
    user_agent: str | None
    at: datetime
    client_data: dict | None = None


class ClientCall(Aggregate):
    """A single recorded call (each its own stream of one event), so busy licenses stay small.

    Recording outcomes apart from the License aggregate keeps license streams short and means
    a flood of failed validations never contends with the license's real changes.
    """

    @event("Recorded")
    def __init__(
        self,
        action: str,
        license_id: UUID | None,
        product_id: UUID | None,
        error_code: str | None,
        security_event: str | None,
        ip: str | None,
        hwid: str | None,
        user_agent: str | None,
        details: dict,
        at: datetime,
    ) -> None:
        pass


def record_call(action: str, request: ClientRequest, license_id: UUID | None, error_code: str | None = None,
                security_event: str | None = None, details: dict | None = None) -> ClientCall:
    """The outcome record of one client call (success when error_code is None)."""
    return ClientCall(action, license_id, request.product_id, error_code, security_event, request.ip,
                      request.hwid, request.user_agent, details or {}, request.at)
