"""The request class of the app: JSON bodies are refused (400) when they carry text the ledger cannot keep, or
nest deeper than the decoder can follow; and the `Idempotency-Key` header vendor writes accept."""

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
            return await super().json()
        except RecursionError:  # msgspec decodes nesting recursively: some thousand levels exhaust the stack
            raise ValidationException("JSON nested too deeply") from None


def body_struct(handler: Any) -> Any:
    """The Struct a handler's body is decoded as, or None."""
    data = handler.parsed_fn_signature.parameters.get("data")
    kind = data and data.annotation
    return kind if isinstance(kind, type) and issubclass(kind, msgspec.Struct) else None


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
