"""The spec's response envelopes: {"success": true, "data": ...} and the error shape."""

from typing import Any, Generic, Literal, TypeVar

import msgspec
from litestar import Response

T = TypeVar("T")


# A vendor handler returns `Ok[License]` and the like, so the OpenAPI document shows what `data` holds.
class Ok(msgspec.Struct, Generic[T], kw_only=True, forbid_unknown_fields=True):
    """The success envelope: `data` holds the answer."""

    success: Literal[True] = True
    data: T


def ok(data: Any, status_code: int = 200) -> Response[dict[str, Any]]:
    return Response({"success": True, "data": data}, status_code=status_code)


def error(status_code: int, message: str, error_code: str, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"success": False, "message": message, "error_code": error_code, **extra}, status_code=status_code)


class ErrorEnvelope(msgspec.Struct):
    """A refusal: `error_code` names its reason and `message` explains it. Some carry more (the change's
    `position` with READ_MODELS_BEHIND, `security_blocked` on a client refusal)."""

    success: Literal[False]
    message: str
    error_code: str
