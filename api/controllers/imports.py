"""Import: an admin brings a vendor's products and licenses over from LicenseCM (docs/migrating-from-licensecm.md)."""

from typing import Any

from litestar import Controller, Response, post
from litestar.params import JSONBody

from api.deps import AdminDep, RuntimeDep
from api.envelope import ok
from api.schemas.imports import ImportRequest, import_report, read_import


class ImportController(Controller):
    path = "/admin"
    tags = ["admin"]

    @post("/import", status_code=200, sync_to_thread=True)
    def import_records(self, data: JSONBody[ImportRequest], admin: AdminDep, runtime: RuntimeDep) -> Response[Any]:
        """Each line's outcome: imported, present already (nothing changed) or refused (nothing written, and
        why). A file that cannot be read at all is a 400 and imports nothing."""
        found = read_import(data.content, data.format)
        owner = runtime.ledger.import_owner(data.owner)
        outcomes, position = runtime.ledger.import_records(owner.id, found.products, found.licenses, runtime.clock())
        runtime.wait_for(position)
        return ok(import_report([*found.refused, *outcomes]))
