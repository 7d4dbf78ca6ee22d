"""Notifications: list, unread count, mark one or all read."""

from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery

from api.deps import ActorDep, LimitQuery, PageQuery, RuntimeDep
from api.envelope import Ok
from api.errors import NotificationNotFoundError
from api.schemas.notifications import Notification, UnreadCount
from projections import notifications


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get("/", sync_to_thread=True)
    def list_notifications(self, actor: ActorDep, runtime: RuntimeDep, unread: FromQuery[bool] = False,
                           page: PageQuery = 1, limit: LimitQuery = 20) -> Ok[list[Notification]]:
        rows = notifications.list_notifications(runtime.store, str(actor.id), unread, page, limit)
        return Ok(data=msgspec.convert(rows, list[Notification]))

    @get("/unread-count", sync_to_thread=True)
    def unread_count(self, actor: ActorDep, runtime: RuntimeDep) -> Ok[UnreadCount]:
        return Ok(data=UnreadCount(notifications.unread_count(runtime.store, str(actor.id))))

    @post("/{notification_id:uuid}/read", status_code=200, sync_to_thread=True)
    def mark_read(self, notification_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[Notification]:
        if notifications.get_notification(runtime.store, str(actor.id), str(notification_id)) is None:
            raise NotificationNotFoundError(notification_id)
        receipt = runtime.ledger.mark_notification_read(actor.id, notification_id, runtime.clock())
        runtime.wait_for(receipt.position, ("notifications",))
        row = notifications.get_notification(runtime.store, str(actor.id), str(notification_id))
        return Ok(data=msgspec.convert(row, Notification))

    @post("/read-all", status_code=200, sync_to_thread=True)
    def mark_all_read(self, actor: ActorDep, runtime: RuntimeDep) -> Ok[UnreadCount]:
        receipt = runtime.ledger.mark_all_notifications_read(actor.id, runtime.clock())
        runtime.wait_for(receipt.position, ("notifications",))
        return Ok(data=UnreadCount(notifications.unread_count(runtime.store, str(actor.id))))
