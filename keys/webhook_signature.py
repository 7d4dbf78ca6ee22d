"""Webhook signatures, Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.

The timestamp is signed with the body, so a receiver refuses an old delivery replayed to it
(docs/webhooks.md shows the check in Python and Node.js, with a test vector).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "KeyLedger-Signature"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (Unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook_signature(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """Whether `header` signs `body` with `secret` and its timestamp lies within `tolerance` seconds of `now`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body).split(",v1=", 1)[1]
    return any(hmac.compare_digest(expected, value) for key, value in
               (part.split("=", 1) for part in header.split(",") if "=" in part) if key == "v1")


def webhook_headers(secret: str, body: bytes, event_type: str, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The headers of one delivery: what it is, which delivery, and the signature over time and body."""
    return {"KeyLedger-Event": event_type, "KeyLedger-Delivery": delivery_id,
            SIGNATURE_HEADER: webhook_signature(secret, timestamp, body)}
