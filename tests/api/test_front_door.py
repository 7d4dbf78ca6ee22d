"""The front door (api/direct.py) honours the application: a validation answered before routing passes
through the middleware and guards Litestar would apply, and what it cannot apply stops the start."""

import json
from typing import Any

import msgspec
import pytest
from litestar import Response, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.exceptions import ImproperlyConfiguredException, NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.params import JSONBody
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.direct import Direct, DirectApp
from tests.api.test_direct_validation import both_ways, handled, post_raw  # noqa: F401 - handled is a fixture
from tests.conftest import create_license, create_product, register


class Counting(ASGIMiddleware):
    """Remembers the path of every request it sees."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        self.paths.append(scope["path"])
        await next_app(scope, receive, send)


def test_an_app_middleware_sees_every_validation_direct_or_not(runtime, handled):
    counting = Counting()
    with TestClient(app=create_app(runtime, middleware=[counting])) as client:
        token = register(client, "vendor@example.com")
        license = create_license(client, token, create_product(client, token)["id"])
        body = {"license_key": license["license_key"], "hwid": "device-1", "product_id": license["product_id"]}
        assert client.post("/api/client/activate", json=body).status_code == 200
        counting.paths.clear()

        (status, _, whole), (parted_status, _, _) = both_ways(client, json.dumps(body).encode(), handled)

    # Check the direct answer and the handler's both went through the app's middleware, once each.
    assert status == parted_status == 200 and whole["data"]["valid"] is True
    assert counting.paths == ["/api/client/validate", "/api/client/validate"]


class Ping(msgspec.Struct):
    name: str


async def pong(scope: Any, body: Ping) -> bytes:
    return b'{"pong":"%s"}' % body.name.encode()


def refuse_strangers(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.headers.get("x-friend") != "yes":
        raise NotAuthorizedException("strangers may not ping")


@post("/ping", opt={"direct": Direct(Ping, pong)}, guards=[refuse_strangers])
async def ping(data: JSONBody[Ping]) -> bytes:
    return await pong({}, data)


def test_a_route_guard_refuses_a_direct_answer_as_it_refuses_the_handler():
    with TestClient(app=DirectApp(route_handlers=[ping])) as client:
        direct = post_raw(client, "/ping", [b'{"name":"a"}'])
        routed = post_raw(client, "/ping", [b'{"name"', b':"a"}'])
        friendly = post_raw(client, "/ping", [b'{"name":"a"}'], headers={"X-Friend": "yes"})

    assert direct[0] == routed[0] == 401 and direct[2] == routed[2]
    assert friendly[0] == 200 and friendly[2] == {"pong": "a"}


@pytest.mark.parametrize("option, named", [
    ({"response_headers": [ResponseHeader(name="X-Served-By", value="us")]}, "response headers"),
    ({"after_request": lambda response: response}, "after_request"),
    ({"cache": 60}, "response cache"),
])
def test_a_direct_route_whose_extras_the_direct_way_would_skip_refuses_to_start(option, named):
    @post("/ping", opt={"direct": Direct(Ping, pong)}, **option)
    async def skipped_ping(data: JSONBody[Ping]) -> bytes:
        return await pong({}, data)

    with pytest.raises(ImproperlyConfiguredException, match=f"/ping .* {named}"):
        DirectApp(route_handlers=[skipped_ping])


async def sulk(scope: Any, body: Ping) -> bytes:
    raise ValueError(f"no pong for {body.name}")


@post("/sulk", opt={"direct": Direct(Ping, sulk)})
async def sulking(data: JSONBody[Ping]) -> bytes:
    return await sulk({}, data)


def test_a_direct_failure_meets_the_apps_exception_handling_as_the_handlers_does():
    seen: list[str] = []

    async def note(error: Exception, scope: Scope) -> None:
        seen.append(f"{scope['path']}: {error}")

    def teapot(_: Any, error: ValueError) -> Response[Any]:
        return Response({"refused": str(error)}, status_code=418)

    app = DirectApp(route_handlers=[sulking], after_exception=[note], exception_handlers={ValueError: teapot})
    with TestClient(app=app) as client:
        direct = post_raw(client, "/sulk", [b'{"name":"a"}'])
        routed = post_raw(client, "/sulk", [b'{"name"', b':"a"}'])

    # Check both ways answer through the app's handler for the error, and its after_exception hook saw both.
    assert direct[0] == routed[0] == 418 and direct[2] == routed[2] == {"refused": "no pong for a"}
    assert seen == ["/sulk: no pong for a", "/sulk: no pong for a"]
