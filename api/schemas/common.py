"""Constrained field types and answer shapes shared by the resource schemas; every cap is listed, with its
reason, in docs/limits.md."""

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

METADATA_BYTES = 16 * 1024
METADATA_DEPTH = 8
METADATA_KEY_LENGTH = 128
Metadata = Annotated[
    dict[Annotated[str, msgspec.Meta(max_length=METADATA_KEY_LENGTH)], Any],
    msgspec.Meta(max_length=100, description=(
        f"Any JSON object of at most 100 keys of at most {METADATA_KEY_LENGTH} characters, "
        f"{METADATA_BYTES // 1024} KiB as compact UTF-8 JSON and {METADATA_DEPTH} levels of nesting (the object "
        "itself is the first).")),
]

Instant = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
"""An instant as the read models keep it, `2026-01-02T03:04:05.000006Z` (always microseconds, always UTC)."""


def check_metadata(metadata: dict[str, Any] | None) -> None:
    """Refuse metadata past the caps JSON Schema cannot state (size, depth): a license copies it into its
    events, read models and every answer that shows the license, once per license of a bulk issue."""
    if metadata is None:
        return
    if len(msgspec.json.encode(metadata)) > METADATA_BYTES:
        raise ValueError(f"metadata may be at most {METADATA_BYTES} bytes as JSON")
    _check_nesting(metadata, 1)


def _check_nesting(value: Any, depth: int) -> None:
    if not isinstance(value, dict | list):
        return
    if depth > METADATA_DEPTH:
        raise ValueError(f"metadata may nest at most {METADATA_DEPTH} levels deep")
    for item in value.values() if isinstance(value, dict) else value:
        _check_nesting(item, depth + 1)


class Pagination(msgspec.Struct, forbid_unknown_fields=True):
    page: int
    limit: int
    total: int
    pages: int


class Deleted(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    deleted: Literal[True]
