"""Notifications: list, unread count, mark one or all read."""

from typing import Any
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery

from api.deps import ActorDep, LimitQuery, PageQuery, RuntimeDep
from api.envelope import ok
from api.errors import NotificationNotFoundError
from projections import notifications


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get("/", sync_to_thread=True)
    def list_notifications(self, actor: ActorDep, runtime: RuntimeDep, unread: FromQuery[bool] = False,
                           page: PageQuery = 1, limit: LimitQuery = 20) -> Response[Any]:
        return ok(notifications.list_notifications(runtime.store, str(actor.id), unread, page, limit))

    @get("/unread-count", sync_to_thread=True)
    def unread_count(self, actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        return ok({"count": notifications.unread_count(runtime.store, str(actor.id))})

    @post("/{notification_id:uuid}/read", status_code=200, sync_to_thread=True)
    def mark_read(self, notification_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        if notifications.get_notification(runtime.store, str(actor.id), str(notification_id)) is None:
            raise NotificationNotFoundError(notification_id)
        receipt = runtime.ledger.mark_notification_read(actor.id, notification_id, runtime.clock())
        runtime.wait_for(receipt.position)
        return ok(notifications.get_notification(runtime.store, str(actor.id), str(notification_id)))

    @post("/read-all", status_code=200, sync_to_thread=True)
    def mark_all_read(self, actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        receipt = runtime.ledger.mark_all_notifications_read(actor.id, runtime.clock())
        runtime.wait_for(receipt.position)
        return ok({"count": notifications.unread_count(runtime.store, str(actor.id))})
