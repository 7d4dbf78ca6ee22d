"""Client-call outcomes: one immutable record per call, appended to the call log and never loaded by commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

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


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The outcome of one client call, as appended to the call log (success when error_code is None).

    Not an aggregate: nothing ever changes a call once it happened, and no command loads it, so
    records go to their own append-only log and a busy license's stream stays small.
    """

    action: str
    license_id: UUID | None
    product_id: UUID | None
    error_code: str | None
    security_event: str | None
    ip: str | None
    hwid: str | None
    user_agent: str | None
    details: dict
    at: datetime


def record_call(action: str, request: ClientRequest, license_id: UUID | None, error_code: str | None = None,
                security_event: str | None = None, details: dict | None = None) -> CallRecord:
    """The outcome record of one client call (success when error_code is None)."""
    return CallRecord(action, license_id, request.product_id, error_code, security_event, request.ip,
                      request.hwid, request.user_agent, details or {}, request.at)
