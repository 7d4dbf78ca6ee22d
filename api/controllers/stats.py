"""Statistics: the vendor dashboard and per-product figures."""

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get
from litestar.params import FromPath

from api.deps import ActorDep, RuntimeDep
from api.envelope import ok
from domain.product import ProductNotFoundError
from projections import products, stats


class StatsController(Controller):
    path = "/stats"
    tags = ["stats"]

    @get("/dashboard", sync_to_thread=True)
    def dashboard(self, actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        return ok(stats.dashboard(runtime.store, str(actor.id), runtime.clock()))

    @get("/products/{product_id:uuid}", sync_to_thread=True)
    def product_stats(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        owner = None if actor.is_admin else str(actor.id)
        if products.get_product(runtime.store, str(product_id), owner) is None:
            raise ProductNotFoundError(product_id)
        return ok(stats.product_stats(runtime.store, str(product_id), runtime.clock()))
