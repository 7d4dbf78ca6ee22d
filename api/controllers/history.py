"""Audit views of one license or product: its state at a past time, and its history."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, FromQuery

from api.deps import ActorDep, RuntimeDep
from api.envelope import Ok
from api.schemas.history import LicenseState, ProductState
from api.schemas.products import ROW_FIELDS
from commands.history import events_of
from domain.account import Actor
from domain.audit import parse_instant
from domain.errors import InvalidValueError
from domain.instants import utc_text
from domain.license import LicenseNotFoundError
from domain.product import ProductNotFoundError
from keyledger.wiring import Runtime
from projections import licenses, products
from projections.licenses import LicenseListProjection
from projections.products import ProductListProjection
from projections.state_at import position_of, replay_until


def _owner_filter(actor: Actor) -> str | None:
    return None if actor.is_admin else str(actor.id)


def _instant(at: str | None) -> datetime:
    """ISO-8601, a date or a time (no zone: UTC); anything else, or nothing, is refused (400)."""
    if at is None or not at.strip():
        raise InvalidValueError("at must be an ISO-8601 time")
    return parse_instant(at)


def _position(runtime: Runtime, aggregate_id: UUID, event: Any) -> int:
    """Where the event lies in the store, as the audit chain linked it (linking it now if it is that recent)."""
    found = position_of(runtime.store, str(aggregate_id), event.originator_version)
    if found is None and runtime.audit is not None:
        runtime.audit.keeper.catch_up()
        found = position_of(runtime.store, str(aggregate_id), event.originator_version)
    return found or 0


class LicenseStateController(Controller):
    path = "/licenses"
    tags = ["audit"]

    @get("/{license_id:uuid}/state", sync_to_thread=True)
    def license_state(self, license_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep,
                      at: FromQuery[str | None] = None) -> Ok[LicenseState]:
        """The license as `GET /licenses/{id}` answered at `at` (ISO-8601; no zone: UTC); 404 before it existed."""
        when = _instant(at)
        row, last = replay_until(events_of(runtime.ledger, license_id), when, LicenseListProjection,
                                 lambda store: licenses.get_license(store, str(license_id), _owner_filter(actor), when))
        if row is None:
            raise LicenseNotFoundError(license_id)
        state = {**row, "position": _position(runtime, license_id, last), "at": utc_text(when)}
        return Ok(data=msgspec.convert(state, LicenseState))


class ProductStateController(Controller):
    path = "/products"
    tags = ["audit"]

    @get("/{product_id:uuid}/state", sync_to_thread=True)
    def product_state(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep,
                      at: FromQuery[str | None] = None) -> Ok[ProductState]:
        """The product as `GET /products/{id}` answered at `at`, without its secret; 404 before it existed."""
        when = _instant(at)
        row, last = replay_until(events_of(runtime.ledger, product_id), when, ProductListProjection,
                                 lambda store: products.get_product(store, str(product_id), _owner_filter(actor)))
        if row is None:
            raise ProductNotFoundError(product_id)
        state = {**{name: row[name] for name in ROW_FIELDS}, "position": _position(runtime, product_id, last),
                 "at": utc_text(when)}
        return Ok(data=msgspec.convert(state, ProductState))
