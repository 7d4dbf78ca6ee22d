"""Lockence compatibility: `/api/v1/init|validate|heartbeat|logout`, answered in Lockence's flat shape."""

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.params import JSONBody

from api.client_protocol import client_request
from api.deps import RuntimeDep
from api.errors import lockence_error_response
from api.ports import Services
from api.schemas.answers import LockenceAnswer, LockenceSessionAnswer, LockenceTokenAnswer
from api.schemas.client import LockenceInit, LockenceSession
from api.schemas.openapi import answer
from commands.client import Granted
from domain.errors import DomainError
from projections.base import iso


def _session_answer(granted: Granted, message: str, with_token: bool) -> Response[Any]:
    body: dict[str, Any] = {"success": True, "message": message}
    if with_token:
        body |= {"session_token": granted.session_token, "expires_at": iso(granted.session.expires_at)}  # type: ignore[union-attr]
    body |= {"username": granted.license.username or "", "metadata": granted.license.metadata}
    return Response(body, status_code=200)


def _call(runtime: Services, request: Request[Any, Any, Any], api_key: str, license_key: str = "",
          hwid: str | None = None) -> Any:
    product = runtime.ledger.find_product_by_secret(api_key)
    return client_request(runtime, request.scope, license_key, product.id, hwid)


class LockenceController(Controller):
    path = "/v1"
    tags = ["lockence"]
    exception_handlers = {DomainError: lockence_error_response}

    @post("/init", status_code=200, sync_to_thread=True,
          responses=answer(LockenceTokenAnswer, "Authenticated: a session for this device."))
    def init(self, request: Request[Any, Any, Any], data: JSONBody[LockenceInit], runtime: RuntimeDep) -> Response[Any]:
        granted = runtime.ledger.activate_license(_call(runtime, request, data.api_key, data.license_key, data.hwid))
        return _session_answer(granted, "Authentication successful", with_token=True)

    @post("/validate", status_code=200, sync_to_thread=True,
          responses=answer(LockenceSessionAnswer, "The session is valid."))
    def validate(self, request: Request[Any, Any, Any], data: JSONBody[LockenceSession],
                 runtime: RuntimeDep) -> Response[Any]:
        granted = runtime.ledger.check_session(_call(runtime, request, data.api_key), data.session_token)
        return _session_answer(granted, "Session is valid", with_token=False)

    @post("/heartbeat", status_code=200, sync_to_thread=True,
          responses=answer(LockenceTokenAnswer, "The session is extended; its token stays the same."))
    def heartbeat(self, request: Request[Any, Any, Any], data: JSONBody[LockenceSession],
                  runtime: RuntimeDep) -> Response[Any]:
        call = _call(runtime, request, data.api_key)
        granted = runtime.ledger.keep_session_alive(call, data.session_token, rotate=False)
        return _session_answer(granted, "Heartbeat received", with_token=True)

    @post("/logout", status_code=200, sync_to_thread=True, responses=answer(LockenceAnswer, "The session is ended."))
    def logout(self, request: Request[Any, Any, Any], data: JSONBody[LockenceSession],
               runtime: RuntimeDep) -> Response[Any]:
        runtime.ledger.end_session(_call(runtime, request, data.api_key), data.session_token)
        return Response({"success": True, "message": "Logged out"}, status_code=200)
