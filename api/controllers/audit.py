"""Audit: the audit chain's signed checkpoints, and the NDJSON export of every linked record."""

from collections.abc import Iterator
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery
from litestar.response import Stream

from api.deps import ActorDep, AdminDep, InstantQuery, LimitQuery, PageQuery, RuntimeDep, window
from api.envelope import Ok
from api.ports import Services
from api.schemas.audit import CheckpointPage
from domain.product import ProductNotFoundError
from projections import products
from projections.audit_chain import list_checkpoints
from projections.audit_export import ExportScope, export_lines
from projections.base import pagination

NDJSON = "application/x-ndjson"
CHUNK = 64 * 1024


class AuditController(Controller):
    path = "/audit"
    tags = ["audit"]

    @get("/checkpoints", sync_to_thread=True)
    def list_checkpoints(self, admin: AdminDep, runtime: RuntimeDep, chain: FromQuery[Literal["events", "calls"] | None] = None,
                         page: PageQuery = 1, limit: LimitQuery = 20) -> Ok[CheckpointPage]:
        """The audit chain's signed checkpoints, oldest first (admins), with the key that verifies them."""
        rows, total = list_checkpoints(runtime.store, page, limit, chain)
        key = _audit(runtime).key
        return Ok(data=msgspec.convert({"checkpoints": rows, "key_id": key.key_id, "algorithm": key.algorithm,
                                        "public_key": key.public_pem,
                                        "pagination": pagination(page, limit, total)}, CheckpointPage))

    @get("/export", sync_to_thread=True, media_type=NDJSON)
    def export(self, actor: ActorDep, runtime: RuntimeDep, since: InstantQuery = None, until: InstantQuery = None,
               product_id: FromQuery[UUID | None] = None,
               tenant_id: FromQuery[UUID | None] = None) -> Stream:
        """Every linked record as NDJSON with its hash (docs/audit.md): admins everything, vendors their
        products' records."""
        first, last = window(since, until, ("since", "until"))
        owner = None if actor.is_admin else str(actor.id)
        if product_id is not None and products.get_product(runtime.store, str(product_id), owner) is None:
            raise ProductNotFoundError(product_id)
        tenant = str(tenant_id) if tenant_id is not None and actor.is_admin else owner
        scope = ExportScope(first, last, str(product_id) if product_id else None, tenant)
        audit = _audit(runtime)
        lines = export_lines(runtime.store, audit.sources, scope, audit.key.key_id, audit.key.public_pem)
        return Stream(_chunked(lines), media_type=NDJSON)


def _chunked(lines: Iterator[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """Whole lines in chunks of about `size` bytes: Litestar fetches each item of a sync iterator on a worker
    thread, a hop too dear to pay per line."""
    held: list[bytes] = []
    length = 0
    for line in lines:
        held.append(line)
        length += len(line)
        if length >= size:
            yield b"".join(held)
            held, length = [], 0
    if held:
        yield b"".join(held)


def _audit(runtime: Services) -> Any:
    assert runtime.audit is not None
    return runtime.audit
