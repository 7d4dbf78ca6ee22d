"""Hot routes answered before Litestar routes them, with each route itself kept as the reference.

A route handler marked `opt={"direct": Direct(schema, answer)}` has its common case, a plain
JSON body that arrives whole and is exactly the route's schema, answered by the application
itself as the request comes in (`DirectApp.__call__`): no routing, no request object, no
parameter resolution, no response object. For a validation that is a quarter of the API
process's CPU (measured in process: 165 µs a call through the handler, 126 µs through a route
middleware, which still paid for routing, and callgrind counts another 8 % of the loop's
instructions off that). Everything else goes to Litestar untouched: an encrypted envelope, a
body in several parts or over the size limit, a body that fails the schema, the same path
spelt differently. Whatever it hands over it has only read, never acted on, so the handler
sees the same bytes and decides alone; the handler stays what the OpenAPI schema documents,
and what the direct way must agree with (tests/api/test_direct_validation.py).

An exception raised on the direct way is answered by the application's own exception handler
for it, as Litestar would answer it from the route (every handler of ours is the
application's). An application with `before_send` hooks or CORS, which Litestar applies to
every answer, answers nothing directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import msgspec
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.types import HTTPScope, Message, Receive, Scope, Send

from api.media import has_json_body_type
from domain.text import json_has_nul

Answer = Callable[[HTTPScope, Any], Awaitable[bytes]]
"""The encoded JSON answer (200) to a request whose body decoded as the schema; refusals raise."""


class Direct(NamedTuple):
    """What a route handler's `opt["direct"]` holds: the body's schema and the function answering it."""

    schema: type[Any]
    answer: Answer


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
    __slots__ = ("decode", "answer")

    def __init__(self, direct: Direct) -> None:
        self.decode = msgspec.json.Decoder(direct.schema).decode
        self.answer = direct.answer

    def decoded(self, body: bytes) -> Any:
        """The body as the schema, or None: not JSON, not exactly the schema, or with a NUL character (which
        the handler's request class refuses, api/requests.py)."""
        if json_has_nul(body):
            return None
        try:
            return self.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            return None


class DirectApp(Litestar):
    """Litestar, answering the common case of the routes marked `opt={"direct": Direct(...)}` itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct: dict[tuple[str, str], DirectRoute] = {}
        if self.before_send or self.cors_config:
            return
        for route in self.routes:
            if isinstance(route, HTTPRoute):
                for handler in route.route_handlers:
                    if isinstance(direct := handler.opt.get("direct"), Direct):
                        self._direct.update({(method, route.path): DirectRoute(direct)
                                             for method in handler.http_methods})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        route = self._direct.get((scope.get("method"), scope["path"])) if scope["type"] == "http" else None
        if route is None or not has_json_body_type(scope["headers"]):  # the route refuses other bodies (415)
            await super().__call__(scope, receive, send)
            return
        body, message = await whole_body(receive, self.request_max_body_size)
        decoded = None if body is None else route.decoded(body)
        if decoded is None:
            await super().__call__(scope, replaying(message, receive), send)
            return
        scope["app"] = scope["litestar_app"] = self  # as Litestar's own entry sets them
        scope.setdefault("state", {})
        try:
            answer = await route.answer(scope, decoded)
        except Exception as error:
            await self._refuse(scope, receive, send, error)
            return
        # What Litestar's ASGIResponse sends for a JSON body, without building one (a tenth of the call's CPU).
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """Answer `error` with the application's exception handler for it, as Litestar does for a route's."""
        handler = next((self.exception_handlers[kind] for kind in type(error).__mro__
                        if kind in self.exception_handlers), None)
        if handler is None:
            raise error
        request = self.request_class(scope, receive)
        response = handler(request, error)
        await response.to_asgi_response(None, request)(scope, receive, send)  # type: ignore[union-attr]
