"""Constrained field types and answer shapes shared by the resource schemas."""

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

# Neither `@`, a control character nor a space (spelt out: `\s` means other sets in Python and in JSON Schema's
# regexes); `(?!\n)$` is the end of the text in both (Python's `$` also matches before a final newline).
_LETTER = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
Email = Annotated[str, msgspec.Meta(pattern=rf"^{_LETTER}{{1,64}}@{_LETTER}+\.{_LETTER}+(?!\n)$", max_length=254)]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Page = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]

Metadata = Annotated[dict[str, Any], msgspec.Meta(max_length=100)]

Instant = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
"""An instant as the read models keep it, `2026-01-02T03:04:05.000006Z` (always microseconds, always UTC)."""


class Pagination(msgspec.Struct, forbid_unknown_fields=True):
    page: int
    limit: int
    total: int
    pages: int


class Deleted(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    deleted: Literal[True]
