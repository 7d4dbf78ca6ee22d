"""Who acts in a request, for the events it records (domain/actor.py): set once per request, filled in as the
request learns more.

The application's entry (api/app.py) makes a `RequestActor` the current actor of every HTTP request before
anything else runs in it, its rate limits included. The vendor API's authentication then names the signed-in
account (`signed_in`), and the client path the call's product and device (`client_call`). They may run in other
threads than the handler (each with a copy of the request's context), so they fill in the one object the copies
share rather than set the context variable. Channels, request ids and why: docs/decisions/0075-event-actors.md.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from domain.actor import Channel, EventActor, current_source
from domain.client_call import ClientRequest

HEADER = b"x-request-id"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestActor:
    """The actor of one request: what the request says (channel, request id, IP), and who it turns out to be."""

    __slots__ = ("scope", "channel", "account", "call", "_request_id")

    def __init__(self, scope: Any, channel: Channel) -> None:
        self.scope = scope
        self.channel: Channel = channel
        self.account: dict[str, Any] | None = None
        self.call: ClientRequest | None = None
        self._request_id: str | None = None

    @property
    def request_id(self) -> str:
        if self._request_id is None:
            self._request_id = request_id_of(self.scope)
        return self._request_id

    def actor(self) -> EventActor:
        ip = client_ip(self.scope)
        if self.account is not None:
            return EventActor(kind="account", channel=self.channel, account_id=uuid.UUID(self.account["id"]),
                              email=self.account["email"], role=self.account["role"],
                              request_id=self.request_id, ip=ip)
        if self.call is not None:
            return EventActor(kind="client", channel=self.channel, product_id=self.call.product_id,
                              device=self.call.hwid, request_id=self.request_id, ip=ip)
        kind = "client" if self.channel == "client_api" else "anonymous"
        return EventActor(kind=kind, channel=self.channel, request_id=self.request_id, ip=ip)


def request_id_of(scope: Any) -> str:
    """The caller's `X-Request-ID` if it is a plain one (letters, digits, `._:-`, at most 64), else a new id."""
    for name, value in scope["headers"]:
        if name == HEADER:
            sent = value.decode("latin-1")
            return sent if _PLAIN_ID.fullmatch(sent) else uuid.uuid4().hex
    return uuid.uuid4().hex


def client_ip(scope: Any) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _request_actor() -> RequestActor | None:
    found = current_source()
    return found if type(found) is RequestActor else None


def signed_in(account: dict[str, Any]) -> None:
    """The vendor request's signed-in account (its email and role as they are now) acts in it."""
    if (request := _request_actor()) is not None:
        request.account = account


def client_call(call: ClientRequest) -> ClientRequest:
    """The client call's product and device act in it; returns the call."""
    if (request := _request_actor()) is not None:
        request.call = call
    return call


def with_request_id(send: Any, request: RequestActor) -> Any:
    """`send`, adding the vendor request's `X-Request-ID` to its answer."""

    async def sending(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), (HEADER, request.request_id.encode())]}
        await send(message)

    return sending
