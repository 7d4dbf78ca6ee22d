"""Statistics: the vendor dashboard, per-product figures and a product's time series."""

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, QueryParameter

from api.deps import ActorDep, RuntimeDep
from api.envelope import Ok
from api.ports import Services
from api.schemas.stats import Dashboard, ProductStats, ProductTimeseries
from domain.account import Actor
from domain.audit import parse_instant
from domain.product import ProductNotFoundError
from projections import products, stats, timeseries

IntervalQuery = Annotated[Literal["hour", "day"], QueryParameter()]
FromQuery = Annotated[str | None, QueryParameter(name="from", max_length=64, schema_extra={"format": "date-time"},
                                                  description="ISO-8601 date or time (no zone: UTC)")]
ToQuery = Annotated[str | None, QueryParameter(name="to", max_length=64, schema_extra={"format": "date-time"},
                                                description="ISO-8601 date or time (no zone: UTC); default now")]


def _visible_product(runtime: Services, actor: Actor, product_id: UUID) -> None:
    """404 unless the product exists and the actor may see it (admins see every one)."""
    if products.get_product(runtime.store, str(product_id), None if actor.is_admin else str(actor.id)) is None:
        raise ProductNotFoundError(product_id)


class StatsController(Controller):
    path = "/stats"
    tags = ["stats"]

    @get("/dashboard", sync_to_thread=True)
    def dashboard(self, actor: ActorDep, runtime: RuntimeDep) -> Ok[Dashboard]:
        return Ok(data=msgspec.convert(stats.dashboard(runtime.store, str(actor.id), runtime.clock()), Dashboard))

    @get("/products/{product_id:uuid}", sync_to_thread=True)
    def product_stats(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[ProductStats]:
        _visible_product(runtime, actor, product_id)
        figures = stats.product_stats(runtime.store, str(product_id), runtime.clock())
        return Ok(data=msgspec.convert(figures, ProductStats))

    @get("/products/{product_id:uuid}/timeseries", sync_to_thread=True)
    def product_timeseries(
        self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep, interval: IntervalQuery = "day",
        start: FromQuery = None, end: ToQuery = None,
    ) -> Ok[ProductTimeseries]:
        """Counts per UTC hour or day, oldest first, empty buckets as zeros (docs/read-models.md, `timeseries`)."""
        _visible_product(runtime, actor, product_id)
        first = parse_instant(start) if start is not None else None  # an empty value is refused, not "absent"
        last = parse_instant(end) if end is not None else runtime.clock()
        answer = timeseries.product_timeseries(runtime.store, str(product_id), first, last, interval)
        return Ok(data=msgspec.convert({"product_id": product_id, **answer}, ProductTimeseries))
