"""Dependencies every controller may ask for: the services (api/ports.py), the actor, the account."""

from datetime import datetime
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import State
from litestar.params import QueryParameter, SkipValidation
from litestar.di import NamedDependency, Provide

from api.auth import current_account, current_actor, require_admin
from api.ports import Services
from domain.account import Actor
from domain.audit import parse_instant
from domain.errors import InvalidValueError


def provide_runtime(state: State) -> Services:
    return state.runtime


def provide_actor(account: NamedDependency[dict[str, Any]]) -> Actor:
    return current_actor(account)


def provide_admin(account: NamedDependency[dict[str, Any]]) -> dict[str, Any]:
    return require_admin(account)


def provide_account(request: Request[Any, Any, Any], state: State) -> dict[str, Any]:
    return current_account(request, state)


DEPENDENCIES = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "account": Provide(provide_account, sync_to_thread=True),
    "actor": Provide(provide_actor, sync_to_thread=False),
    "admin": Provide(provide_admin, sync_to_thread=False),
}


# Explicit markers for handler signatures (Litestar 3 drops the inferred forms).
RuntimeDep = NamedDependency[SkipValidation[Services]]  # a Protocol: isinstance cannot check it
ActorDep = NamedDependency[Actor]
AccountDep = NamedDependency[dict[str, Any]]
AdminDep = NamedDependency[dict[str, Any]]
PageQuery = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=100)]
InstantQuery = Annotated[str | None, QueryParameter(max_length=64, schema_extra={"format": "date-time"},
                                                    description="ISO-8601 time (a date, or no zone, is taken as UTC)")]
"""Text, not `datetime`: a `datetime` query would also take a number (`since=0.5`) that the document refuses."""


def window(start: str | None, end: str | None, names: tuple[str, str]) -> tuple[datetime | None, datetime | None]:
    """Two InstantQuery values read as a window; an empty or unreadable one, or a start after the end, is
    refused (400)."""
    first = None if start is None else parse_instant(start)
    last = None if end is None else parse_instant(end)
    if first is not None and last is not None and first > last:
        raise InvalidValueError(f"{names[0]} must not be after {names[1]}")
    return first, last
