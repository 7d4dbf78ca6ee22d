"""Notifications: list, unread count, mark one or all read."""

from typing import Any

from litestar import Controller, Response, get

from api.envelope import ok
from domain.account import Actor
from keyledger.wiring import Runtime


class NotificationController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @get("/", sync_to_thread=True)
    def list_notifications(self, actor: Actor, runtime: Runtime) -> Response[Any]:
        return ok([])
