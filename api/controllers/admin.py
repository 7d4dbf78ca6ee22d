"""Admin: list accounts, change an account's role or activity."""

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, put
from litestar.params import Parameter

from api.envelope import ok
from api.schemas.admin import AccountUpdate
from api.schemas.auth import user_view
from domain.account import AccountNotFoundError
from keyledger.wiring import Runtime
from projections import accounts


class AdminController(Controller):
    path = "/admin"
    tags = ["admin"]

    @get("/users", sync_to_thread=True)
    def list_users(self, admin: dict[str, Any], runtime: Runtime,
                   page: int = Parameter(ge=1, default=1), limit: int = Parameter(ge=1, le=100, default=20),  # noqa: B008
                   ) -> Response[Any]:
        rows, pages = accounts.list_accounts(runtime.store, page, limit)
        return ok({"users": [user_view(row) for row in rows], "pagination": pages})

    @put("/users/{user_id:uuid}", sync_to_thread=True)
    def update_user(self, user_id: UUID, data: AccountUpdate, admin: dict[str, Any], runtime: Runtime) -> Response[Any]:
        receipt = runtime.ledger.change_account(user_id, data.role, data.is_active, runtime.clock())
        runtime.wait_for(receipt.position)
        row = accounts.get_account(runtime.store, str(user_id))
        if row is None:
            raise AccountNotFoundError(user_id)
        return ok(user_view(row))
