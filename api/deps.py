"""Dependencies every controller may ask for: the runtime, the clock, the actor."""

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from api.auth import current_account, current_actor, require_admin
from domain.account import Actor
from keyledger.wiring import Runtime


def provide_runtime(state: State) -> Runtime:
    return state.runtime


def provide_actor(account: dict[str, Any]) -> Actor:
    return current_actor(account)


def provide_admin(account: dict[str, Any]) -> dict[str, Any]:
    return require_admin(account)


def provide_account(request: Request[Any, Any, Any], state: State) -> dict[str, Any]:
    return current_account(request, state)


DEPENDENCIES = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "account": Provide(provide_account, sync_to_thread=True),
    "actor": Provide(provide_actor, sync_to_thread=False),
    "admin": Provide(provide_admin, sync_to_thread=False),
}
