"""The request class of the app: JSON bodies are refused when they are not declared as JSON (415, api/media.py),
carry text the ledger cannot keep, nest deeper than the decoder can follow, or do not strictly match their Struct
(400)."""

import functools
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

from api.media import require_json_body
from api.text import json_has_nul

MAX_BODY_BYTES = 1024 * 1024


class LedgerRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        """The body as JSON; Litestar asks this of every route taking a JSON body, whenever a body came."""
        require_json_body(self.scope)
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
    """Refuse a body its JSON Schema in the OpenAPI document refuses (a msgspec.ValidationError: a 400), strictly,
    where Litestar would pass `0` for a date or `false` and `"5"` for a number. `5.0`, which JSON Schema's `integer`
    takes, is made an int first, at the top level only, where the request Structs keep their integers."""
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
