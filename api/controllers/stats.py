"""Statistics: the vendor dashboard and per-product figures."""

from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import FromPath

from api.deps import ActorDep, RuntimeDep
from api.envelope import Ok
from api.schemas.stats import Dashboard, ProductStats
from domain.product import ProductNotFoundError
from projections import products, stats


class StatsController(Controller):
    path = "/stats"
    tags = ["stats"]

    @get("/dashboard", sync_to_thread=True)
    def dashboard(self, actor: ActorDep, runtime: RuntimeDep) -> Ok[Dashboard]:
        return Ok(data=msgspec.convert(stats.dashboard(runtime.store, str(actor.id), runtime.clock()), Dashboard))

    @get("/products/{product_id:uuid}", sync_to_thread=True)
    def product_stats(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[ProductStats]:
        owner = None if actor.is_admin else str(actor.id)
        if products.get_product(runtime.store, str(product_id), owner) is None:
            raise ProductNotFoundError(product_id)
        figures = stats.product_stats(runtime.store, str(product_id), runtime.clock())
        return Ok(data=msgspec.convert(figures, ProductStats))
