"""Auth: register, login, refresh, me."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from api.auth import issue_token, refresh_token
from api.deps import AccountDep, RuntimeDep
from api.envelope import ok
from api.schemas.auth import AccountLogin, AccountRegister, user_view
from projections import accounts


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/register", sync_to_thread=True)
    def register(self, data: JSONBody[AccountRegister], runtime: RuntimeDep) -> Response[Any]:
        display_name = data.display_name or data.email.split("@")[0]
        receipt = runtime.ledger.register_account(data.email, data.password, display_name, runtime.clock())
        runtime.wait_for(receipt.position)
        return ok(self._session(runtime, str(receipt.id)), status_code=201)

    @post("/login", sync_to_thread=True)
    def login(self, data: JSONBody[AccountLogin], runtime: RuntimeDep) -> Response[Any]:
        account = runtime.ledger.authenticate(data.email, data.password)
        return ok(self._session(runtime, str(account.id)))

    @post("/refresh", sync_to_thread=True)
    def refresh(self, request: Request[Any, Any, Any], account: AccountDep, runtime: RuntimeDep) -> Response[Any]:
        return ok({"token": refresh_token(request, runtime, account)})

    @get("/me", sync_to_thread=True)
    def me(self, account: AccountDep) -> Response[Any]:
        return ok(user_view(account))

    @staticmethod
    def _session(runtime: RuntimeDep, account_id: str) -> dict[str, Any]:
        account = accounts.get_account(runtime.store, account_id)
        if account is None:  # registered through another process a moment ago
            runtime.wait_for(runtime.ledger.position())
            account = accounts.get_account(runtime.store, account_id)
        return {"token": issue_token(runtime, account_id, runtime.clock()), "user": user_view(account)}
