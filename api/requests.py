"""The request class of the app: JSON bodies are refused (400) when they carry text the ledger cannot keep, nest
deeper than the decoder can follow, or do not strictly match their Struct; and the `Idempotency-Key` header
vendor writes accept."""

import functools
import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from domain.text import json_has_nul

MAX_BODY_BYTES = 1024 * 1024
MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_KEY_PATTERN = "^[ -~]+$"  # printable ASCII
IDEMPOTENT_PATHS = ("/api/products", "/api/licenses", "/api/admin", "/api/notifications")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LedgerRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if json_has_nul(await self.body()):
            raise ValidationException("Text may not contain the NUL character (\\u0000)")
        try:
            value = await super().json()
        except RecursionError:  # msgspec decodes nesting recursively: some thousand levels exhaust the stack
            raise ValidationException("JSON nested too deeply") from None
        if (kind := body_struct(self.route_handler)) is not None:
            check_strictly(value, kind)
        return value


def body_struct(handler: Any) -> Any:
    """The Struct a handler's body is decoded as, or None."""
    data = handler.parsed_fn_signature.parameters.get("data")
    kind = data and data.annotation
    return kind if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else None


def check_strictly(value: Any, kind: type[msgspec.Struct]) -> None:
    """Refuse a body its JSON Schema in the OpenAPI document refuses (a msgspec.ValidationError: a 400).

    Litestar converts a body leniently: `0` passes for a date or for `false`, `"5"` for a number. msgspec's
    strict mode refuses those, and also `5.0` for an integer, which JSON Schema's `integer` takes: such a
    number is made an int before the check (the request Structs keep their integers at the top level)."""
    if isinstance(value, dict):
        ints = _integer_fields(kind)
        value = {key: int(item) if key in ints and isinstance(item, float) and item.is_integer() else item
                 for key, item in value.items()}
    msgspec.convert(value, kind, strict=True)


@functools.cache
def _integer_fields(kind: type[msgspec.Struct]) -> frozenset[str]:
    fields = msgspec.inspect.type_info(kind).fields  # type: ignore[attr-defined]
    return frozenset(field.encode_name for field in fields
                     if any(isinstance(t, msgspec.inspect.IntType) for t in getattr(field.type, "types", [field.type])))


def takes_idempotency_key(method: str, path: str) -> bool:
    """Whether a request is a vendor write, which accepts an `Idempotency-Key` (DESIGN.md, "Writes are safe
    to retry"). The OpenAPI document derives from this too (api/openapi.py)."""
    return method in WRITES and any(path == root or path.startswith(root + "/") for root in IDEMPOTENT_PATHS)


async def refuse_malformed_idempotency_key(request: Request[Any, Any, Any]) -> None:
    """Refuse (400) a vendor write whose `Idempotency-Key` is not 1-255 printable ASCII characters."""
    key = request.headers.get("idempotency-key")
    if key is None or not takes_idempotency_key(request.method, request.url.path):
        return
    if len(key) > MAX_IDEMPOTENCY_KEY or not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        raise ValidationException(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
