"""Challenge-response: the client proves it holds the product secret by HMAC-ing a one-time challenge.

response = hex HMAC-SHA256(secret key, challenge + license key + hwid), as the spec has it (docs/client-protocol.md,
"Challenge-response"). The parts are joined with no separator, yet the joins cannot be shifted: the challenge is
always 64 hex characters, and the caller binds each one to the license key and hwid it was issued for. The
published LicenseCM SDKs answer HMAC-SHA256(key = hwid, message = challenge) instead (`hwid_challenge_response`),
which proves nothing about the caller: the HWID travels in the same request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CHALLENGE_BYTES = 32


def new_challenge() -> str:
    """32 random bytes as 64 lower-case hex characters."""
    return secrets.token_hex(CHALLENGE_BYTES)


def challenge_response(secret_key: str, challenge: str, license_key: str, hwid: str) -> str:
    message = (challenge + license_key + hwid).encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def check_challenge_response(secret_key: str, challenge: str, license_key: str, hwid: str, response: str) -> bool:
    """Constant-time comparison; upper-case hex is accepted, anything that is not a string is refused."""
    if not isinstance(response, str):
        return False
    expected = challenge_response(secret_key, challenge, license_key, hwid).encode("ascii")
    return hmac.compare_digest(expected, response.lower().encode("utf-8"))


def hwid_challenge_response(hwid: str, challenge: str) -> str:
    """The LicenseCM SDKs' answer to a challenge: hex HMAC-SHA256 keyed with the HWID."""
    return hmac.new(hwid.encode("utf-8"), challenge.encode("utf-8"), hashlib.sha256).hexdigest()


def check_hwid_challenge_response(hwid: str, challenge: str, response: str) -> bool:
    """Constant-time comparison, upper-case hex accepted, as for `check_challenge_response`."""
    if not isinstance(response, str):
        return False
    expected = hwid_challenge_response(hwid, challenge).encode("ascii")
    return hmac.compare_digest(expected, response.lower().encode("utf-8"))
