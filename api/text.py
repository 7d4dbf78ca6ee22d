"""Text the ledger accepts: anything Unicode, except the NUL character.

PostgreSQL cannot store NUL in a text column, so one NUL in a product name or a HWID would
fail every write that carried it: the projector's batch (stuck, retrying, for every tenant)
or a whole batch of other clients' call records. It is refused at the door instead, as bad
input (400), before anything is recorded.
"""

from __future__ import annotations

from typing import Any

NUL_ESCAPE = b"\\u0000"
"""The only way JSON can carry NUL: raw control characters are not valid JSON."""


def json_has_nul(body: bytes) -> bool:
    """Whether this JSON text holds a NUL character (an escaped backslash before `u0000` is not one)."""
    start = body.find(NUL_ESCAPE)
    while start >= 0:
        run = start
        while run > 0 and body[run - 1] == 0x5C:  # the backslashes just before it
            run -= 1
        if (start - run) % 2 == 0:  # `\u0000` itself, not an escaped backslash followed by `u0000`
            return True
        start = body.find(NUL_ESCAPE, start + 1)
    return False


def has_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds NUL in any string, key or value, at any depth."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False
