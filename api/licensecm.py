"""Client answers of a product in LicenseCM compatibility mode: what the published LicenseCM SDKs read.

Only Node's and Python's SDKs check a signature: RSA PKCS#1 v1.5 with SHA-512 over their own JSON text of
`data.data`, on which they agree only for an ASCII string with nothing to escape. So `data.data` is the base64url of
the canonical JSON of the answer's other fields, `data.signature` signs `"` + that string + `"`, and these answers
are always signed with the server's RSA key. Other fields follow what the SDKs parse (no nulls, whole-second expiry
times, `new_token` whenever the call came with a session); "expired" and "invalid" end an SDK's session, so a
refusal says them only when the session really is over. Why each: docs/decisions/0004-licensecm-sdk-compatibility.md.
"""

import base64
import re
from typing import Any

from domain.refusals import BlacklistedError, ClientRefusedError
from keys.canonical import canonical_json

EXPIRY_FIELDS = ("expires_at",)


def shaped(data: dict[str, Any], session_token: str | None) -> dict[str, Any]:
    """`data` as the SDKs read it: nulls left out, expiry times in whole seconds, the session token as
    `new_token` (the same token when it was not rotated)."""
    shaped_data = _plain(data)
    for name in ("license", "session"):
        if isinstance(shaped_data.get(name), dict):
            shaped_data[name] = _plain(shaped_data[name])
    if session_token is not None and "new_token" not in shaped_data:
        shaped_data["new_token"] = session_token
    return shaped_data


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: whole_seconds(value) if name in EXPIRY_FIELDS else value
            for name, value in fields.items() if value is not None}


def whole_seconds(text: str) -> str:
    """`2026-01-02T03:04:05.678901Z` (domain/instants.py) as `2026-01-02T03:04:05Z`."""
    return text[:19] + "Z"


def signed_payload(bound: dict[str, Any]) -> tuple[str, bytes]:
    """`data.data` for an answer whose fields are `bound`, and the bytes its signature covers."""
    payload = base64.urlsafe_b64encode(canonical_json(bound)).decode("ascii")
    return payload, f'"{payload}"'.encode("ascii")


SESSION_OVER = frozenset({"SESSION_EXPIRED", "HWID_MISMATCH", "LICENSE_NOT_FOUND"})
"""Refusals of a heartbeat that mean its session cannot run again: the token is unknown, ended or lapsed, the
device was released, the license is gone (docs/licensing-rules.md)."""

MESSAGES = {
    "LICENSE_NOT_FOUND": "License not found",
    "LICENSE_EXPIRED": "License has lapsed",
    "SESSION_EXPIRED": "Session expired",
}
_SESSION_WORDS = re.compile("expired|invalid", re.IGNORECASE)


def refusal_body(refusal: ClientRefusedError, heartbeat: bool) -> dict[str, Any]:
    """The refusal as the SDKs read it (the error code stays, for KeyLedger's own clients)."""
    message = MESSAGES.get(refusal.code, refusal.detail)
    if heartbeat and (refusal.code in SESSION_OVER or refusal.security_event == "session_hijack"):
        message = "Session expired" if refusal.code == "SESSION_EXPIRED" else f"Session expired: {message.lower()}"
    else:
        message = _SESSION_WORDS.sub(lambda word: "lapsed" if word[0].lower() == "expired" else "not valid", message)
    body: dict[str, Any] = {"success": False, "message": message, "error_code": refusal.code}
    if isinstance(refusal, BlacklistedError):
        body |= {"security_blocked": True, "security_details": {"reason": "blacklist_hit",
                                                                "type": refusal.blacklist_type}}
    return body
