"""The spec's response envelopes: {"success": true, "data": ...} and the error shape."""

from typing import Any

import msgspec
from litestar import Response


def ok(data: Any, status_code: int = 200) -> Response[dict[str, Any]]:
    return Response({"success": True, "data": data}, status_code=status_code)


def error(status_code: int, message: str, error_code: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"success": False, "message": message, "error_code": error_code, **extra}, status_code=status_code)


class ErrorEnvelope(msgspec.Struct):
    """The error envelope, as the OpenAPI schema documents it (`error` sends it)."""

    success: bool
    message: str
    error_code: str
