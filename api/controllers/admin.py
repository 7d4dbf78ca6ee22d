"""Admin: list accounts, change an account's role or activity; how far each read model has got."""

from uuid import UUID

import msgspec
from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody

from api.deps import AdminDep, LimitQuery, PageQuery, RuntimeDep
from api.envelope import Ok
from api.schemas.admin import AccountUpdate, ReadModels, UserPage
from api.schemas.auth import User, user_of
from api.schemas.common import Pagination
from domain.account import AccountNotFoundError
from projections import accounts


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]

    @get("/users", sync_to_thread=True)
    def list_users(self, admin: AdminDep, runtime: RuntimeDep,
                   page: PageQuery = 1, limit: LimitQuery = 20,
                   ) -> Ok[UserPage]:
        rows, pages = accounts.list_accounts(runtime.store, page, limit)
        return Ok(data=UserPage([user_of(row) for row in rows], msgspec.convert(pages, Pagination)))

    @get("/projections", sync_to_thread=True)
    def projections(self, admin: AdminDep, runtime: RuntimeDep) -> Ok[ReadModels]:
        """Each read model's position against the event log's head, and any event it passed over (kept in
        projection_quarantine with its error; `keyledger rebuild` applies them once the cause is fixed)."""
        head = runtime.ledger.position()
        models = [{**model, "behind": max(0, head - model["position"])} for model in runtime.read_model_status()]
        return Ok(data=msgspec.convert({"head": head, "read_models": models}, ReadModels))

    @put("/users/{user_id:uuid}", sync_to_thread=True)
    def update_user(self, user_id: FromPath[UUID], data: JSONBody[AccountUpdate], admin: AdminDep, runtime: RuntimeDep) -> Ok[User]:
        receipt = runtime.ledger.change_account(user_id, data.role, data.is_active, runtime.clock())
        runtime.wait_for(receipt.position, ("accounts",))
        row = accounts.get_account(runtime.store, str(user_id))
        if row is None:
            raise AccountNotFoundError(user_id)
        return Ok(data=user_of(row))
