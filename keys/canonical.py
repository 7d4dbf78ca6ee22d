"""Canonical JSON: the exact bytes an answer signature covers, reproducible in any language.

The output is RFC 8785 (JSON Canonicalization Scheme; docs/client-protocol.md, "Canonical JSON"). For the usual
answer (ASCII keys, strings, integers, booleans, null) that is byte for byte sorted compact UTF-8 JSON, which
msgspec's sorted encoder writes several times faster. The two RFC rules beyond that exist so a JavaScript client
agrees with us on the rare float (`1.0` is `1`, `1e-7` not `1e-07`) and non-BMP key (sorted by UTF-16 code unit,
as JS sorts).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import msgspec


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 bytes of `obj`; NaN, infinities, lone surrogates and non-JSON types raise."""
    if _plain(obj):  # every answer the server signs, unless a vendor put floats or non-ASCII keys in metadata
        return msgspec.json.encode(obj, order="sorted")
    return _write(obj).encode("utf-8")


def _plain(value: Any) -> bool:
    """Whether a sorted compact JSON encoder writes `value` exactly as RFC 8785 does: no floats, only ASCII keys,
    exact JSON types. ASCII keys sort the same by code point and by UTF-16 unit, and without floats the two
    writers differ in nothing else."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii() or (type(item) not in _SCALARS and not _plain(item)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _SCALARS and not _plain(item):
                return False
        return True
    return kind in _SCALARS


_SCALARS = frozenset({str, int, bool, type(None)})


def _write(value: Any) -> str:
    # bool before int: True is an int to Python, but `true` to JSON.
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _ecmascript_number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_write(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_write(key) + ":" + _write(value[key]) for key in _sorted_keys(value)) + "}"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _sorted_keys(mapping: dict[Any, Any]) -> list[str]:
    if not all(isinstance(key, str) for key in mapping):
        raise TypeError("JSON object keys must be strings")
    return sorted(mapping, key=lambda key: key.encode("utf-16-be", "surrogatepass"))


def _ecmascript_number(value: float) -> str:
    """Number::toString (ECMA-262 §6.1.6.1.20), from Python's shortest round-trip digits."""
    if not math.isfinite(value):
        raise ValueError("NaN and infinities are not JSON")
    if value == 0:
        return "0"  # -0.0 too, as in JavaScript
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k, n = len(digits), int(exponent) + len(digits)  # value = 0.<digits> × 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return ("-" if sign else "") + text
