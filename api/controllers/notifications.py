"""Notifications: list, unread count, mark one or all read."""

from typing import Any

from litestar import Controller, Response, get

from api.deps import ActorDep, RuntimeDep
from api.envelope import ok
from domain.account import Actor
from keyledger.wiring import Runtime


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get("/", sync_to_thread=True)
    def list_notifications(self, actor: ActorDep, runtime: RuntimeDep) -> Response[Any]:
        return ok([])
