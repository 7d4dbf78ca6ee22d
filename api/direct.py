"""Hot routes answered before Litestar routes them, through everything Litestar would apply to them.

A route handler marked `opt={"direct": Direct(schema, answer)}` has its common case, a plain JSON body that
arrives whole and is exactly the route's schema, answered as the request comes in, with no routing, request or
response object, yet through the route's middleware (in Litestar's order), its guards and the application's
exception handling. What the direct way cannot apply makes the application refuse to start, naming it. Everything
else goes to Litestar untouched, and the handler stays the reference the direct way must agree with
(tests/api/test_direct_validation.py). Why, and what is honoured: docs/decisions/0024 and 0040.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import msgspec
from litestar import Litestar
from litestar._asgi.routing_trie.mapping import build_route_middleware_stack
from litestar._asgi.utils import wrap_in_exception_handler
from litestar.connection import ASGIConnection
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Send
from litestar.utils.scope.state import ScopeState

from api.media import has_json_body_type
from api.text import json_has_nul

Answer = Callable[[HTTPScope, Any], Awaitable[bytes]]
"""The encoded JSON answer (200) to a request whose body decoded as the schema; refusals raise."""
DECODED = "keyledger.direct_body"
"""The scope key under which the decoded body travels through the middleware to the answer."""
ERROR = "keyledger.direct_error"
"""The scope key under which an error raised by a direct answer reaches Litestar's exception handling."""


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


def skipped(handler: HTTPRouteHandler) -> list[str]:
    """What Litestar applies to `handler`'s answers that the direct way would not."""
    return [name for name, present in (
        ("response headers", handler.resolve_response_headers()),
        ("response cookies", handler.resolve_response_cookies()),
        ("before_request", handler.resolve_before_request()),
        ("after_request", any(layer.after_request for layer in handler.ownership_layers)),
        ("after_response", handler.resolve_after_response()),
        ("response cache", handler.cache),
        ("background task", handler.background),
    ) if present]


class _Entry(NamedTuple):
    """The innermost ASGI app of a direct route's middleware stack, as Litestar's stack builder takes a route."""

    handle: ASGIApp


class DirectRoute:
    """A direct route's body decoder and answer."""

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


class DirectEntry:
    """A direct route's way in: its answer inside the route's guards and middleware, as Litestar stacks them."""

    __slots__ = ("route", "handler", "guards", "exception_handlers", "max_body", "path", "asgi", "_handled")

    def __init__(self, app: Litestar, direct: Direct, handler: HTTPRouteHandler, path: str) -> None:
        self.route = DirectRoute(direct)
        self.handler = handler
        self.guards = handler.resolve_guards()
        self.exception_handlers = handler.resolve_exception_handlers()
        self.max_body = handler.resolve_request_max_body_size()
        self.path = path
        stack = build_route_middleware_stack(app, _Entry(self._answered), handler)  # type: ignore[arg-type]
        # With no middleware the answer is the whole stack and only it sends, so Litestar's exception handling
        # is needed only once something was raised: it then handles the error as it would have from the stack.
        self.asgi = None if stack == self._answered else wrap_in_exception_handler(stack)
        self._handled = wrap_in_exception_handler(_raise_error)

    async def __call__(self, scope: Any, receive: Receive, send: Send, decoded: Any) -> None:
        """Set the scope up as Litestar's router would for this route, then run the stack."""
        scope.setdefault("path_params", {})
        scope["route_handler"] = self.handler
        scope["path_template"] = self.path
        if self.asgi is not None:
            ScopeState.from_scope(scope).exception_handlers = self.exception_handlers
            scope[DECODED] = decoded
            await self.asgi(scope, receive, send)
            return
        try:
            answer = await self._answer(scope, receive, send, decoded)
        except Exception as error:
            ScopeState.from_scope(scope).exception_handlers = self.exception_handlers
            scope[ERROR] = error
            await self._handled(scope, receive, send)
            return
        await _send_json(send, answer)

    async def _answered(self, scope: Any, receive: Receive, send: Send) -> None:
        await _send_json(send, await self._answer(scope, receive, send, scope.pop(DECODED)))

    async def _answer(self, scope: Any, receive: Receive, send: Send, decoded: Any) -> bytes:
        for guard in self.guards:
            await guard(ASGIConnection(scope, receive, send), self.handler)
        return await self.route.answer(scope, decoded)


async def _send_json(send: Send, answer: bytes) -> None:
    """What Litestar's ASGIResponse sends for a JSON body, without building one (a tenth of the call's CPU)."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]})
    await send({"type": "http.response.body", "body": answer})


async def _raise_error(scope: Any, receive: Receive, send: Send) -> None:
    """Raise, inside Litestar's exception handling, what a direct answer raised outside it."""
    raise scope.pop(ERROR)


class DirectApp(Litestar):
    """Litestar, answering the common case of the routes marked `opt={"direct": Direct(...)}` itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._direct: dict[tuple[str, str], DirectEntry] = {}
        if self.before_send or self.cors_config:  # they wrap every answer: the direct way stays closed
            return
        for route in self.routes:
            if isinstance(route, HTTPRoute):
                for handler in route.route_handlers:
                    if isinstance(direct := handler.opt.get("direct"), Direct):
                        self._add(route.path, handler, direct)

    def _add(self, path: str, handler: HTTPRouteHandler, direct: Direct) -> None:
        if found := skipped(handler):
            raise ImproperlyConfiguredException(
                f"{path} is answered directly (api/direct.py), which would skip its {', '.join(found)}")
        entry = DirectEntry(self, direct, handler, path)
        self._direct.update({(method, path): entry for method in handler.http_methods})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        entry = self._direct.get((scope.get("method"), scope["path"])) if scope["type"] == "http" else None
        if entry is None or not has_json_body_type(scope["headers"]):  # the route refuses other bodies (415)
            await super().__call__(scope, receive, send)
            return
        body, message = await whole_body(receive, entry.max_body)
        decoded = None if body is None else entry.route.decoded(body)
        if decoded is None:
            await super().__call__(scope, replaying(message, receive), send)
            return
        scope["app"] = scope["litestar_app"] = self  # as Litestar's own entry sets them
        scope.setdefault("state", {})
        await entry(scope, replaying(message, receive), send, decoded)
