"""The request class of the app: JSON bodies are refused (400) when they carry text the ledger cannot keep, or
nest deeper than the decoder can follow."""

from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException

from domain.text import json_has_nul


class LedgerRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if json_has_nul(await self.body()):
            raise ValidationException("Text may not contain the NUL character (\\u0000)")
        try:
            return await super().json()
        except RecursionError:  # msgspec decodes nesting recursively: some thousand levels exhaust the stack
            raise ValidationException("JSON nested too deeply") from None
