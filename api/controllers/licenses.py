"""Licenses: list, create, bulk create, get, update, delete, reset HWID, logs."""

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.controllers.history import require_license_access
from api.deps import ActorDep, LimitQuery, PageQuery, RuntimeDep
from api.envelope import Ok
from api.ports import Services
from api.schemas.common import Deleted
from api.schemas.licenses import (
    License,
    LicenseBatch,
    LicenseBulkCreate,
    LicenseCreate,
    LicenseLogPage,
    LicensePage,
    LicenseUpdate,
)
from domain.account import Actor
from domain.license import KEEP, LicenseNotFoundError, LicenseStatus
from projections import license_logs, licenses

LicenseTypeQuery = Annotated[Literal["trial", "subscription", "lifetime"] | None, QueryParameter(name="type")]

SHOWN_IN = ("licenses", "license_changes", "notifications")
"""The read models a license write shows in (read-your-writes waits for these only)."""


def _owner_filter(actor: Actor) -> str | None:
    return None if actor.is_admin else str(actor.id)


def _read(runtime: Services, actor: Actor, license_id: UUID) -> License:
    row = licenses.get_license(runtime.store, str(license_id), _owner_filter(actor), runtime.clock())
    if row is None:
        raise LicenseNotFoundError(license_id)
    return msgspec.convert(row, License)


class LicenseController(Controller):
    path = "/licenses"
    tags = ["licenses"]

    @get("/", sync_to_thread=True)
    def list_licenses(
        self, actor: ActorDep, runtime: RuntimeDep, product_id: FromQuery[UUID | None] = None,
        status: FromQuery[Literal["active", "expired", "suspended"] | None] = None,
        license_type: LicenseTypeQuery = None,
        page: PageQuery = 1, limit: LimitQuery = 20,
    ) -> Ok[LicensePage]:
        rows, pages = licenses.list_licenses(
            runtime.store, _owner_filter(actor), runtime.clock(), product_id=product_id and str(product_id),
            status=status and LicenseStatus(status), license_type=license_type, page=page, limit=limit,
        )
        return Ok(data=msgspec.convert({"licenses": rows, "pagination": pages}, LicensePage))

    @post("/", status_code=201, sync_to_thread=True)
    def create_license(self, data: JSONBody[LicenseCreate], actor: ActorDep, runtime: RuntimeDep) -> Ok[License]:
        receipt = runtime.ledger.issue_license(actor, data.product_id, data.terms(), runtime.clock())
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=_read(runtime, actor, receipt.id))

    @post("/bulk", status_code=201, sync_to_thread=True)
    def create_licenses(self, data: JSONBody[LicenseBulkCreate], actor: ActorDep,
                        runtime: RuntimeDep) -> Ok[LicenseBatch]:
        ids, position = runtime.ledger.issue_licenses(actor, data.product_id, data.count, data.terms(),
                                                      runtime.clock())
        runtime.wait_for(position, SHOWN_IN)
        rows = licenses.get_licenses(runtime.store, [str(i) for i in ids], runtime.clock())
        return Ok(data=msgspec.convert({"created": len(ids), "licenses": rows}, LicenseBatch))

    @get("/{license_id:uuid}", sync_to_thread=True)
    def get_license(self, license_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[License]:
        return Ok(data=_read(runtime, actor, license_id))

    @put("/{license_id:uuid}", sync_to_thread=True)
    def update_license(self, license_id: FromPath[UUID], data: JSONBody[LicenseUpdate], actor: ActorDep,
                       runtime: RuntimeDep) -> Ok[License]:
        receipt = runtime.ledger.update_license(
            actor, license_id, runtime.clock(), status=data.status and LicenseStatus(data.status),
            max_uses=data.max_uses, hwid_locked=data.hwid_locked, metadata=data.metadata,
            expires_at=KEEP if data.expires_at is msgspec.UNSET else data.expires_at,
            username=KEEP if data.username is msgspec.UNSET else data.username,
        )
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=_read(runtime, actor, license_id))

    @delete("/{license_id:uuid}", status_code=200, sync_to_thread=True)
    def delete_license(self, license_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[Deleted]:
        receipt = runtime.ledger.delete_license(actor, license_id, runtime.clock())
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=Deleted(license_id, True))

    @post("/{license_id:uuid}/reset-hwid", status_code=200, sync_to_thread=True)
    def reset_hwid(self, license_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[License]:
        receipt = runtime.ledger.reset_hwid(actor, license_id, runtime.clock())
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=_read(runtime, actor, license_id))

    @get("/{license_id:uuid}/logs", sync_to_thread=True)
    def list_logs(self, license_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep,
                  page: PageQuery = 1, limit: LimitQuery = 20) -> Ok[LicenseLogPage]:
        require_license_access(runtime, actor, license_id)  # a deleted license's logs still answer its owner
        logs, pages = license_logs.list_license_logs(runtime.store, runtime.calls, str(license_id),
                                                     page, limit)
        return Ok(data=msgspec.convert({"logs": logs, "pagination": pages}, LicenseLogPage))
