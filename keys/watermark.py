"""Watermarks: a per-license, per-device value that lets the server say which device leaked a copy.

The value is HMAC-SHA256(master key, "watermark:<license id>:<hwid>") cut to 32 hex. Only the
server can compute it, so a client cannot forge another device's watermark, and nothing in it
reveals the license or the hwid. Tracing recomputes it for each device the license has seen.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache

WATERMARK_HEX_CHARS = 32


@lru_cache(maxsize=16384)  # every validation answer carries one; a device validates again and again
def watermark(master_key: bytes, license_id: str, hwid: str) -> str:
    """The 32-hex watermark of one license on one device (license ids are UUIDs, so no ':' inside)."""
    message = f"watermark:{license_id}:{hwid}".encode("utf-8")
    return hmac.new(master_key, message, hashlib.sha256).hexdigest()[:WATERMARK_HEX_CHARS]


def trace_watermark(master_key: bytes, license_id: str, known_hwids: Iterable[str], found: str) -> str | None:
    """The device (hwid) whose watermark `found` is, among the license's known devices; None if none. Every candidate
    is compared in constant time and the loop never stops early, so the time taken says nothing of which matched."""
    found_bytes = found.strip().lower().encode("utf-8")
    match = None
    for hwid in known_hwids:
        if hmac.compare_digest(watermark(master_key, license_id, hwid).encode("ascii"), found_bytes):
            match = hwid
    return match
