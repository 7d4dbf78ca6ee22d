"""Statistics: the vendor dashboard and per-product figures."""

from typing import Any
from uuid import UUID

from litestar.params import FromPath
from litestar import Controller, Response, get

from api.deps import ActorDep, RuntimeDep
from api.envelope import ok
from domain.account import Actor
from keyledger.wiring import Runtime


class StatsController(Controller):
    path = "/stats"
    tags = ["stats"]

    @get("/dashboard", sync_to_thread=True)
    def dashboard(self, actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        return ok({})

    @get("/products/{product_id:uuid}", sync_to_thread=True)
    def product_stats(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        return ok({})
