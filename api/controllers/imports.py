"""Import: an admin brings a vendor's products and licenses over from LicenseCM (docs/migrating-from-licensecm.md)."""

from litestar import Controller, post
from litestar.params import JSONBody

from api.deps import AdminDep, RuntimeDep
from api.envelope import Ok
from api.schemas.imports import ImportReport, ImportRequest, import_report, read_import


class ImportController(Controller):
    path = "/admin"
    tags = ["admin"]

    @post("/import", status_code=200, sync_to_thread=True)
    def import_records(self, data: JSONBody[ImportRequest], admin: AdminDep, runtime: RuntimeDep) -> Ok[ImportReport]:
        """Each line's outcome: imported, present already (nothing changed) or refused (nothing written, and
        why). A file that cannot be read at all is a 400 and imports nothing."""
        found = read_import(data.content, data.format)
        owner = runtime.ledger.import_owner(data.owner)
        outcomes, position = runtime.ledger.import_records(owner.id, found.products, found.licenses, runtime.clock())
        runtime.wait_for(position, ("products", "licenses", "license_changes", "notifications"))
        return Ok(data=import_report([*found.refused, *outcomes]))
