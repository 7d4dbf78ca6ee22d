"""The request class of the app: JSON bodies are refused when they are not declared as JSON (415, api/media.py),
carry text the ledger cannot keep, or nest deeper than the decoder can follow (400)."""

from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

from api.media import require_json_body
from domain.text import json_has_nul


class LedgerRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        """The body as JSON; Litestar asks this of every route taking a JSON body, whenever a body came."""
        require_json_body(self.scope)
        if json_has_nul(await self.body()):
            raise ValidationException("Text may not contain the NUL character (\\u0000)")
        try:
            return await super().json()
        except RecursionError:  # msgspec decodes nesting recursively: some thousand levels exhaust the stack
            raise ValidationException("JSON nested too deeply") from None
