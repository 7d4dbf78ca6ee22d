"""History and state-at-a-time answers: a license or product as it was, and a license's events in order."""

from typing import Any

import msgspec

from api.schemas.licenses import License
from api.schemas.products import Product


class LicenseState(License, forbid_unknown_fields=True, kw_only=True):
    """`GET /licenses/{id}` as it answered at a past time, and the event-store position it reflects."""

    position: int
    at: str


class ProductState(Product, forbid_unknown_fields=True, kw_only=True):
    """`GET /products/{id}` as it answered at a past time (never with the secret key), and the position it
    reflects."""

    position: int
    at: str


class HistoryActor(msgspec.Struct, forbid_unknown_fields=True):
    """Who caused an event and how (docs/audit.md): `kind` is account, anonymous, client, system or unknown (an
    event stored before events recorded one); `channel` vendor_api, client_api, cli or worker."""

    kind: str
    channel: str | None = None
    account_id: str | None = None
    email: str | None = None
    role: str | None = None
    product_id: str | None = None
    device: str | None = None
    name: str | None = None
    os_user: str | None = None
    request_id: str | None = None
    ip: str | None = None


class HistoryEvent(msgspec.Struct, forbid_unknown_fields=True):
    """One event of the license (or of one of its sessions): where it lies, what it is, when, what changed."""

    position: int
    aggregate_id: str
    version: int
    type: str
    at: str
    actor: HistoryActor
    changes: dict[str, Any]
    hash: str


class HistoryCall(msgspec.Struct, forbid_unknown_fields=True):
    """One client call about the license, from the call log."""

    position: int
    action: str
    at: str
    success: bool
    error_code: str | None
    security_event: str | None
    ip: str | None
    hwid: str | None
    user_agent: str | None
    hash: str


class HistoryPagination(msgspec.Struct, forbid_unknown_fields=True):
    """`total` counts the events; `calls_total` the calls (0 unless asked for); `pages` covers the longer."""

    page: int
    limit: int
    total: int
    calls_total: int
    pages: int


class LicenseHistory(msgspec.Struct, forbid_unknown_fields=True):
    """A page of the license's events in store order, and with `include=calls` the same page of its calls."""

    license_id: str
    deleted: bool
    events: list[HistoryEvent]
    calls: list[HistoryCall]
    pagination: HistoryPagination
