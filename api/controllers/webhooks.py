"""Webhooks: list, register, get, change, delete, test, deliveries, retry a delivery, replay."""

from uuid import UUID, uuid4

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody

from api.deps import ActorDep, LimitQuery, PageQuery, RuntimeDep
from api.envelope import Ok
from api.ports import Services
from api.schemas.common import Deleted
from api.schemas.webhooks import (
    Delivery,
    DeliveryPage,
    Replay,
    Webhook,
    WebhookCreate,
    WebhookReplay,
    WebhookTest,
    WebhookUpdate,
    webhook_of,
)
from domain.account import Actor
from domain.errors import InvalidValueError
from domain.instants import utc_text
from domain.webhook import DeliveryNotFoundError, WebhookNotFoundError
from keys.webhook_signature import webhook_headers
from projections import webhooks
from projections.base import page_bounds, pagination


def _owner_filter(actor: Actor) -> str | None:
    return None if actor.is_admin else str(actor.id)


def _read(runtime: Services, actor: Actor, webhook_id: UUID, secret: str | None = None) -> Webhook:
    row = webhooks.get_webhook(runtime.store, str(webhook_id), _owner_filter(actor))
    if row is None:
        raise WebhookNotFoundError(webhook_id)
    return webhook_of(row, secret)


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @get("/", sync_to_thread=True)
    def list_webhooks(self, actor: ActorDep, runtime: RuntimeDep) -> Ok[list[Webhook]]:
        return Ok(data=[webhook_of(row) for row in webhooks.list_webhooks(runtime.store, _owner_filter(actor))])

    @post("/", status_code=201, sync_to_thread=True)
    def create_webhook(self, data: JSONBody[WebhookCreate], actor: ActorDep, runtime: RuntimeDep) -> Ok[Webhook]:
        receipt, secret = runtime.ledger.register_webhook(actor, data.url, list(data.events), data.secret,
                                                          runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=_read(runtime, actor, receipt.id, secret))

    @get("/{webhook_id:uuid}", sync_to_thread=True)
    def get_webhook(self, webhook_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[Webhook]:
        return Ok(data=_read(runtime, actor, webhook_id))

    @put("/{webhook_id:uuid}", sync_to_thread=True)
    def update_webhook(self, webhook_id: FromPath[UUID], data: JSONBody[WebhookUpdate], actor: ActorDep,
                       runtime: RuntimeDep) -> Ok[Webhook]:
        receipt = runtime.ledger.change_webhook(actor, webhook_id, runtime.clock(), url=data.url,
                                                events=None if data.events is None else list(data.events),
                                                secret=data.secret, is_active=data.is_active)
        runtime.wait_for(receipt.position)
        return Ok(data=_read(runtime, actor, webhook_id, data.secret))

    @delete("/{webhook_id:uuid}", status_code=200, sync_to_thread=True)
    def delete_webhook(self, webhook_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[Deleted]:
        receipt = runtime.ledger.delete_webhook(actor, webhook_id, runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=Deleted(webhook_id, True))

    @post("/{webhook_id:uuid}/test", status_code=200, sync_to_thread=True)
    def test_webhook(self, webhook_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[WebhookTest]:
        """Send a signed `webhook.test` delivery now and say how the endpoint answered (nothing is recorded)."""
        webhook = runtime.ledger.get_webhook(actor, webhook_id)
        now, delivery_id = runtime.clock(), str(uuid4())
        body = msgspec.json.encode({"id": delivery_id, "type": "webhook.test", "created_at": utc_text(now),
                                    "data": {"webhook_id": str(webhook_id)}})
        headers = webhook_headers(runtime.ledger.reveal_webhook_secret(webhook.sealed_secret), body, "webhook.test",
                                  delivery_id, int(now.timestamp()))
        result = runtime.webhook_poster.post(webhook.url, body, headers)
        return Ok(data=WebhookTest(result.status_code, result.response_time_ms, result.error))

    @get("/{webhook_id:uuid}/deliveries", sync_to_thread=True)
    def list_deliveries(self, webhook_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep,
                        page: PageQuery = 1, limit: LimitQuery = 20) -> Ok[DeliveryPage]:
        runtime.ledger.get_webhook(actor, webhook_id)
        rows = webhooks.list_deliveries(runtime.store, str(webhook_id), *page_bounds(page, limit))
        pages = pagination(page, limit, webhooks.count_deliveries(runtime.store, str(webhook_id)))
        return Ok(data=msgspec.convert({"deliveries": rows, "pagination": pages}, DeliveryPage))

    @post("/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/retry", status_code=200, sync_to_thread=True)
    def retry_delivery(self, webhook_id: FromPath[UUID], delivery_id: FromPath[UUID], actor: ActorDep,
                       runtime: RuntimeDep) -> Ok[Delivery]:
        """Queue one delivery again now; answers it as recorded once the dispatcher has taken the request."""
        runtime.ledger.get_webhook(actor, webhook_id)
        row = webhooks.get_delivery(runtime.store, str(webhook_id), str(delivery_id))
        if row is None:
            raise DeliveryNotFoundError(delivery_id)
        receipt = runtime.ledger.retry_webhook_delivery(actor, webhook_id, delivery_id, runtime.clock())
        runtime.wait_for_dispatch(receipt.position)
        return Ok(data=msgspec.convert(webhooks.get_delivery(runtime.store, str(webhook_id), str(delivery_id)),
                                       Delivery))

    @post("/{webhook_id:uuid}/replay", status_code=200, sync_to_thread=True)
    def replay_webhook(self, webhook_id: FromPath[UUID], data: JSONBody[WebhookReplay], actor: ActorDep,
                       runtime: RuntimeDep) -> Ok[Replay]:
        """Queue the matching events again, from a position or a time up to now; `queued` counts them."""
        if data.after is None and data.since is None:
            raise InvalidValueError("give `after` (a position) or `since` (a time), or both")
        receipt, upto = runtime.ledger.replay_webhook(actor, webhook_id, data.after or 0, data.since,
                                                      runtime.clock())
        runtime.wait_for_dispatch(receipt.position)
        return Ok(data=Replay(receipt.id, data.after or 0, upto, webhooks.replay_count(runtime.store, str(receipt.id))))
