"""A hot route answered below Litestar's request machinery, with the route itself kept as the reference.

A route middleware runs after Litestar has routed the request and before it builds the handler's
request, resolves its parameters and renders its answer: for a validation, a fifth of the API
process's CPU (measured in process: 165 µs a call through the handler, 126 µs direct). So
`validate` carries a middleware that answers the common case itself, a plain JSON body that is
exactly the route's schema, and hands everything else to the handler untouched: an encrypted
envelope, a body in several parts or over the size limit, a body that fails the schema. Whatever
it hands over it has only read, never acted on, so the handler sees the same bytes and decides
alone; the handler stays what the OpenAPI schema documents, and what the direct path must agree
with (tests/api/test_direct_validation.py).

Exceptions raised on the direct path reach the application's exception handlers like the
handler's own: Litestar's outer exception middleware wraps the route's middleware too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from domain.text import json_has_nul


Answer = Callable[[HTTPScope, Any], Awaitable[bytes]]
"""The encoded JSON answer (200) to a request whose body decoded as the schema; refusals raise."""


async def whole_body(receive: Receive, limit: int | None) -> tuple[bytes | None, Message]:
    """The request's body if it arrived whole in one message of at most `limit` bytes (else None), and the
    message read."""
    message = await receive()
    body = message.get("body", b"") if message["type"] == "http.request" else None
    if body is not None and (message.get("more_body") or (limit is not None and len(body) > limit)):
        body = None
    return body, message


def replaying(message: Message, receive: Receive) -> Receive:
    """A receive that gives whoever reads the request next `message`, already read, then the rest."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return message

    return replay  # type: ignore[return-value]


class DirectRoute:
    """Route middleware: a body that decodes strictly as `schema` is answered by `answer(scope, body)`;
    any other request goes on to the route's handler. Attach it with
    `DefineMiddleware(DirectRoute, schema=..., answer=...)`.

    A body with a NUL character goes on too: the handler's request class refuses it (api/requests.py).
    """

    def __init__(self, app: ASGIApp, schema: type[Any], answer: Answer) -> None:
        self.app = app
        self._decode = msgspec.json.Decoder(schema).decode
        self._answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, message = await whole_body(receive, scope["litestar_app"].request_max_body_size)
        decoded = None if body is None or json_has_nul(body) else self._decoded(body)
        if decoded is None:
            await self.app(scope, replaying(message, receive), send)
            return
        answer = await self._answer(scope, decoded)  # type: ignore[arg-type]
        # What Litestar's ASGIResponse sends for a JSON body, without building one (a tenth of the call's CPU).
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})

    def _decoded(self, body: bytes) -> Any:
        try:
            return self._decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
