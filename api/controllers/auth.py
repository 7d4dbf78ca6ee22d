"""Auth: register, login, refresh, change password, me."""

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from api.abuse import change_password, log_in
from api.auth import issue_token, refresh_token
from api.deps import AccountDep, RuntimeDep
from api.envelope import Ok
from api.schemas.auth import AccountLogin, AccountRegister, PasswordChange, SignedIn, Token, User, user_of
from api.schemas.openapi import refused
from projections import accounts

SHOWN_IN = ("accounts", "notifications")
"""The read models a registration shows in (read-your-writes waits for these only)."""


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/register", status_code=201, sync_to_thread=True)
    def register(self, data: JSONBody[AccountRegister], runtime: RuntimeDep) -> Ok[SignedIn]:
        display_name = data.display_name or data.email.split("@")[0]
        receipt = runtime.ledger.register_account(data.email, data.password, display_name, runtime.clock())
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=self._session(runtime, str(receipt.id)))

    @post("/login", status_code=200, sync_to_thread=True, responses=refused({
        401: "Wrong email or password (INVALID_CREDENTIALS).", 403: "The account is deactivated (ACCOUNT_DEACTIVATED)."}))
    def login(self, request: Request[Any, Any, Any], data: JSONBody[AccountLogin], runtime: RuntimeDep) -> Ok[SignedIn]:
        account = log_in(runtime, request.scope, data.email, data.password)
        return Ok(data=self._session(runtime, str(account.id)))

    @post("/refresh", status_code=200, sync_to_thread=True)
    def refresh(self, request: Request[Any, Any, Any], account: AccountDep, runtime: RuntimeDep) -> Ok[Token]:
        return Ok(data=Token(refresh_token(request, runtime, account)))

    @post("/change-password", status_code=200, sync_to_thread=True, responses=refused({
        403: "The current password is wrong (INVALID_CREDENTIALS)."}))
    def change_password(self, request: Request[Any, Any, Any], data: JSONBody[PasswordChange], account: AccountDep,
                        runtime: RuntimeDep) -> Ok[SignedIn]:
        """Every token of the account ends, the one presented included; the answer holds a new one."""
        receipt = change_password(runtime, request.scope, account, data.current_password, data.new_password)
        runtime.wait_for(receipt.position)
        return Ok(data=self._session(runtime, account["id"]))

    @get("/me", sync_to_thread=True)
    def me(self, account: AccountDep) -> Ok[User]:
        return Ok(data=user_of(account))

    @staticmethod
    def _session(runtime: RuntimeDep, account_id: str) -> SignedIn:
        account = accounts.get_account(runtime.store, account_id)
        if account is None:  # registered through another process a moment ago
            runtime.wait_for(runtime.ledger.position(), SHOWN_IN)
            account = accounts.get_account(runtime.store, account_id)
        return SignedIn(issue_token(runtime, account_id, runtime.clock(), account["token_epoch"]), user_of(account))
