"""Challenge-response: a one-time random challenge, answered with HMAC(secret, challenge + key + hwid); and the
LicenseCM SDKs' challenge, answered with HMAC(hwid, challenge)."""

from datetime import timedelta
from typing import Any

from litestar import Request

from api.client_protocol import client_request
from api.ports import Services
from api.schemas.client import Challenge, HwidChallenge
from commands.client import Granted
from domain.refusals import SecurityViolationError
from keys.challenge import check_challenge_response, check_hwid_challenge_response, new_challenge
from projections.base import iso

CHALLENGE_TTL = timedelta(seconds=60)


def issue_challenge(runtime: Services, request: Request[Any, Any, Any], body: Challenge) -> dict[str, Any]:
    """Only a caller whose license validates gets a challenge, bound to its key and device."""
    runtime.ledger.validate_license(client_request(runtime, request.scope, body.license_key, body.product_id, body.hwid))
    challenge = new_challenge()
    runtime.ephemeral.put("challenge:" + challenge, f"{body.license_key.upper()}|{body.hwid}",
                          CHALLENGE_TTL.total_seconds())
    return {"challenge": challenge, "expires_at": iso(runtime.clock() + CHALLENGE_TTL)}


def verify_challenge(runtime: Services, request: Request[Any, Any, Any], body: Challenge) -> Granted:
    """A wrong, reused or late answer is a SECURITY_VIOLATION, and is recorded as one."""
    call = client_request(runtime, request.scope, body.license_key, body.product_id, body.hwid)
    issued_for = runtime.ephemeral.take("challenge:" + (body.challenge or ""))
    granted = runtime.ledger.validate_license(call)
    secret = runtime.ledger.reveal_product_secret(granted.product)
    if issued_for is None:
        _refuse(runtime, call, "Challenge unknown, already used or expired", "replay_attack")
    if issued_for != f"{body.license_key.upper()}|{body.hwid}" or not check_challenge_response(
            secret, body.challenge or "", body.license_key, body.hwid, body.response or ""):
        _refuse(runtime, call, "Challenge response is wrong", "tamper_detected")
    return granted


def verify_hwid_challenge(runtime: Services, request: Request[Any, Any, Any], body: HwidChallenge) -> Granted:
    """The LicenseCM SDKs' challenge (`/verify-challenge`): a wrong answer is a SECURITY_VIOLATION recorded as
    tampering; a right one proves no more than the call itself (the HWID it is keyed with travels with it), so
    it is answered as a validation."""
    call = client_request(runtime, request.scope, body.license_key, body.product_id, body.hwid, body.client_data)
    if not check_hwid_challenge_response(body.hwid, body.challenge, body.response):
        _refuse(runtime, call, "Challenge response is wrong", "tamper_detected")
    return runtime.ledger.validate_license(call)


def _refuse(runtime: Services, call: Any, detail: str, security_event: str) -> None:
    refusal = SecurityViolationError(detail, security_event=security_event)
    runtime.ledger.record_refusal("challenge", call, refusal)
    raise refusal
