"""Audit views of one license or product: its state at a past time, and its history."""

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from api.deps import ActorDep, LimitQuery, PageQuery, RuntimeDep
from api.envelope import Ok
from api.ports import Services
from api.schemas.history import LicenseHistory, LicenseState, ProductState
from api.schemas.products import ROW_FIELDS
from commands.history import events_between, events_of, first_event, last_version
from domain.account import Actor
from domain.audit import CALLS, parse_instant
from domain.errors import InvalidValueError
from domain.instants import utc_text
from domain.license import License, LicenseNotFoundError
from domain.product import ProductNotFoundError
from projections import history, licenses, products
from projections.licenses import LicenseListProjection
from projections.products import ProductListProjection
from projections.state_at import event_time, position_of, replay_until


def _owner_filter(actor: Actor) -> str | None:
    return None if actor.is_admin else str(actor.id)


AtQuery = Annotated[str | None, QueryParameter(name="at", max_length=64, schema_extra={"format": "date-time"},
                                               description="ISO-8601 time (a date, or no zone, is taken as UTC); "
                                                           "default now")]
IncludeQuery = Annotated[str | None, QueryParameter(
    name="include", max_length=32, pattern=r"^(sessions|calls)(,(sessions|calls))?$",
    description="`sessions`, `calls` or both, comma-separated")]


def _instant(at: str | None, runtime: Services) -> datetime:
    """ISO-8601, a date or a time (no zone: UTC), or now when not given; anything else is refused (400)."""
    if at is None:
        return runtime.clock()
    if not at.strip():
        raise InvalidValueError("at must be an ISO-8601 time")
    return parse_instant(at)


def _position(runtime: Services, aggregate_id: UUID, event: Any) -> int:
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
                      at: AtQuery = None) -> Ok[LicenseState]:
        """The license as `GET /licenses/{id}` answered at `at` (ISO-8601; no zone: UTC); 404 before it existed."""
        when = _instant(at, runtime)
        row, last = replay_until(events_of(runtime.ledger, license_id), when, LicenseListProjection,
                                 lambda store: licenses.get_license(store, str(license_id), _owner_filter(actor), when))
        if row is None:
            raise LicenseNotFoundError(license_id)
        state = {**row, "position": _position(runtime, license_id, last), "at": utc_text(when)}
        return Ok(data=msgspec.convert(state, LicenseState))


def require_license_access(runtime: Services, actor: Actor, license_id: UUID) -> None:
    """The license, deleted or not, is the actor's (or the actor an admin); else LicenseNotFoundError."""
    issued = first_event(runtime.ledger, license_id)
    if not isinstance(issued, License.Issued) or not (actor.is_admin or issued.owner_id == actor.id):
        raise LicenseNotFoundError(license_id)


def _linked(runtime: Services, license_id: UUID, calls: bool) -> None:
    """Link the newest records into the audit chain if the license's are that recent, or calls are asked for
    (history reads the links; the chain follows the logs within a second)."""
    if runtime.audit is not None and (calls or position_of(
            runtime.store, str(license_id), last_version(runtime.ledger, license_id)) is None):
        runtime.audit.keeper.catch_up()


def _history_events(runtime: Services, rows: list[Any]) -> list[dict[str, Any]]:
    """The page's events loaded from the store, one read per aggregate, with what each changed."""
    found: dict[tuple[str, int], Any] = {}
    for record_id in {row["record_id"] for row in rows}:
        versions = [row["version"] for row in rows if row["record_id"] == record_id]
        for event in events_between(runtime.ledger, UUID(record_id), min(versions) - 1, max(versions)):
            found[record_id, event.originator_version] = event
    return [{"position": row["position"], "aggregate_id": row["record_id"], "version": row["version"],
             "type": type(event).__qualname__, "at": utc_text(event_time(event)), "actor": history.actor_of(event),
             "changes": history.changes(event),
             "hash": row["hash"]}
            for row in rows if (event := found.get((row["record_id"], row["version"]))) is not None]


def _history_calls(runtime: Services, rows: list[Any]) -> list[dict[str, Any]]:
    assert runtime.audit is not None
    source, calls = runtime.audit.sources[CALLS], []
    for row in rows:
        for record in source.records(row["position"] - 1, 1):
            if record.position == row["position"]:
                call = json.loads(record.data)
                calls.append({**{name: call[name] for name in CALL_KEYS}, "position": record.position,
                              "success": call["error_code"] is None, "hash": row["hash"]})
    return calls


CALL_KEYS = ("action", "at", "error_code", "security_event", "ip", "hwid", "user_agent")


class LicenseHistoryController(Controller):
    path = "/licenses"
    tags = ["audit"]

    @get("/{license_id:uuid}/history", sync_to_thread=True)
    def license_history(self, license_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep,
                        include: IncludeQuery = None, page: PageQuery = 1,
                        limit: LimitQuery = 20) -> Ok[LicenseHistory]:
        """Every event of the license in store order, with position and hash; `include=sessions,calls` adds its
        sessions' events and its client calls. Answers for a deleted license too (its owner, admins)."""
        wanted = _included(include)
        require_license_access(runtime, actor, license_id)
        _linked(runtime, license_id, "calls" in wanted)
        ids = [str(license_id), *(history.session_ids(runtime.store, str(license_id)) if "sessions" in wanted else [])]
        event_rows, total = history.linked_events(runtime.store, ids, page, limit)
        call_rows, calls_total = history.linked_calls(runtime.store, str(license_id), page, limit) \
            if "calls" in wanted else ([], 0)
        pages = (max(total, calls_total) + limit - 1) // limit
        answer = {"license_id": str(license_id), "events": _history_events(runtime, event_rows),
                  "deleted": licenses.get_license(runtime.store, str(license_id), None, runtime.clock()) is None,
                  "calls": _history_calls(runtime, call_rows), "pagination": {
                      "page": page, "limit": limit, "total": total, "calls_total": calls_total, "pages": pages}}
        return Ok(data=msgspec.convert(answer, LicenseHistory))


def _included(include: str | None) -> set[str]:
    wanted = {part.strip() for part in (include or "").split(",") if part.strip()}
    if wanted - {"sessions", "calls"}:
        raise InvalidValueError("include takes sessions, calls or both, comma-separated")
    return wanted


class ProductStateController(Controller):
    path = "/products"
    tags = ["audit"]

    @get("/{product_id:uuid}/state", sync_to_thread=True)
    def product_state(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep,
                      at: AtQuery = None) -> Ok[ProductState]:
        """The product as `GET /products/{id}` answered at `at`, without its secret; 404 before it existed."""
        when = _instant(at, runtime)
        row, last = replay_until(events_of(runtime.ledger, product_id), when, ProductListProjection,
                                 lambda store: products.get_product(store, str(product_id), _owner_filter(actor)))
        if row is None:
            raise ProductNotFoundError(product_id)
        state = {**{name: row[name] for name in ROW_FIELDS}, "position": _position(runtime, product_id, last),
                 "at": utc_text(when)}
        return Ok(data=msgspec.convert(state, ProductState))
