"""Client API: what the vendors' software calls. No JWT: the product id and license key identify it."""

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery, JSONBody
from litestar.response.base import ASGIResponse
from litestar.types import HTTPScope

from api.challenges import issue_challenge, verify_challenge, verify_hwid_challenge
from api.client_protocol import (
    client_request,
    device_watermark,
    json_response,
    license_view,
    parse_body,
    parse_body_async,
    signed_answer,
    signed_answer_async,
    success,
)
from api.deps import RuntimeDep
from api.ratelimit import check_client_async
from api.direct import Direct
from api.envelope import ok
from api.heartbeats import device_sessions
from api.ports import Services
from api.schemas.answers import (
    ActivationAnswer,
    ChallengeVerificationAnswer,
    DeactivationAnswer,
    IssuedChallengeAnswer,
    PublicKeyAnswer,
    RenewalAnswer,
    ValidationAnswer,
)
from api.schemas.client import Challenge, Heartbeat, HwidChallenge, LicenseCheck
from api.schemas.openapi import answer, plain_or_sealed, refused, sealed_answer
from commands.client import Granted
from domain.product import ProductNotFoundError, SigningAlgorithm
from projections.base import iso

AnyBody = JSONBody[Any]


def _call(runtime: Services, scope: HTTPScope, body: LicenseCheck | Heartbeat) -> Any:
    return client_request(runtime, scope, body.license_key, body.product_id, body.hwid, body.client_data)


def _licensed(runtime: Services, granted: Granted, hwid: str) -> dict[str, Any]:
    return {"license": license_view(granted.license), "watermark": device_watermark(runtime, granted.license.id, hwid)}


async def _validation(scope: HTTPScope, body: LicenseCheck) -> bytes:
    """Every validation, whichever way it came in (api/direct.py's or the handler's): the one place for a
    per-call policy, the rate limit (api/ratelimit.py). Served on the event loop; returns the encoded answer."""
    runtime: Services = scope["litestar_app"].state.runtime
    await check_client_async(runtime, scope, body.product_id, body.license_key, body.hwid)
    call = client_request(runtime, scope, body.license_key, body.product_id, body.hwid, body.client_data,
                          limited=False)
    decision = await runtime.gate.admit(call)  # a refusal raises here, recorded
    while True:
        # Signed while the call's record commits, stamped with the instant the call was decided at, the one
        # its record carries (formatted once); given out only once the record stands (commands/client_gate.py).
        payload = {"valid": True, **_licensed(runtime, decision.granted, body.hwid)}
        answer = await signed_answer_async(runtime, scope, decision.granted.product, payload, body, at=call.at)
        again = await runtime.gate.record(decision)
        if again is None:
            return answer
        decision = again  # what it was decided from had changed: answer the new decision


class ClientController(Controller):
    path = "/client"
    tags = ["client"]

    @post("/validate", status_code=200, opt={"direct": Direct(LicenseCheck, _validation)},
          operation_class=plain_or_sealed(LicenseCheck),
          responses=sealed_answer(ValidationAnswer, "The license is valid on this device; `data` is signed."))
    async def validate(self, request: Request[Any, Any, Any], data: AnyBody) -> ASGIResponse:
        """A plain body of the schema is answered before routing and never comes here (api/direct.py);
        this handler answers the rest (envelopes, bodies in parts) the same way, and refuses bad ones."""
        body = await parse_body_async(request.app.state.runtime, request.scope, data, LicenseCheck, "validation")
        return json_response(await _validation(request.scope, body))

    @post("/activate", status_code=200, sync_to_thread=True, operation_class=plain_or_sealed(LicenseCheck),
          responses=sealed_answer(ActivationAnswer, "The device holds a seat and a session; `data` is signed."))
    def activate(self, request: Request[Any, Any, Any], data: AnyBody, runtime: RuntimeDep) -> ASGIResponse:
        body = parse_body(runtime, request.scope, data, LicenseCheck, "activation")
        granted = runtime.ledger.activate_license(_call(runtime, request.scope, body))
        session = {"token": granted.session_token, "expires_at": iso(granted.session.expires_at)}  # type: ignore[union-attr]
        payload = {"activated": True, "session": session, **_licensed(runtime, granted, body.hwid)}
        return signed_answer(runtime, request.scope, granted.product, payload, body, granted.session_token)

    @post("/deactivate", status_code=200, sync_to_thread=True, operation_class=plain_or_sealed(LicenseCheck),
          responses=sealed_answer(DeactivationAnswer, "The device gave its seat back; `data` is signed."))
    def deactivate(self, request: Request[Any, Any, Any], data: AnyBody, runtime: RuntimeDep) -> ASGIResponse:
        body = parse_body(runtime, request.scope, data, LicenseCheck, "deactivation")
        granted = runtime.ledger.deactivate_license(_call(runtime, request.scope, body))
        payload = {"deactivated": True, "current_uses": len(granted.license.devices)}
        return signed_answer(runtime, request.scope, granted.product, payload, body)

    @post("/heartbeat", status_code=200, sync_to_thread=True, operation_class=plain_or_sealed(Heartbeat),
          responses=sealed_answer(RenewalAnswer, "The session lives on under `new_token` (without a token: the"
                                                         " device's live session, its token unchanged); `data`"
                                                         " is signed."))
    def heartbeat(self, request: Request[Any, Any, Any], data: AnyBody, runtime: RuntimeDep) -> ASGIResponse:
        body = parse_body(runtime, request.scope, data, Heartbeat, "heartbeat")
        call = _call(runtime, request.scope, body)
        if body.session_token is None:  # the device's live session lives on, its token unchanged
            granted = runtime.ledger.keep_device_session_alive(call, device_sessions(runtime, call))
        else:
            granted = runtime.ledger.keep_session_alive(call, body.session_token)
        payload = {"valid": True, "expires_at": iso(granted.session.expires_at)}  # type: ignore[union-attr]
        if granted.session_token is not None:
            payload["new_token"] = granted.session_token
        return signed_answer(runtime, request.scope, granted.product, payload, body)

    @post("/challenge", status_code=200, sync_to_thread=True, operation_class=plain_or_sealed(Challenge),
          responses=sealed_answer(IssuedChallengeAnswer | ValidationAnswer,
                                  "Without `challenge`/`response`: a challenge, unsigned. With both: the "
                                  "signed validation."))
    def challenge(self, request: Request[Any, Any, Any], data: AnyBody, runtime: RuntimeDep) -> ASGIResponse:
        body = parse_body(runtime, request.scope, data, Challenge, "challenge")
        if body.challenge is None and body.response is None:
            return success(runtime, request.scope, issue_challenge(runtime, request, body))
        granted = verify_challenge(runtime, request, body)
        payload = {"valid": True, **_licensed(runtime, granted, body.hwid)}
        return signed_answer(runtime, request.scope, granted.product, payload, body)

    @post("/verify-challenge", status_code=200, sync_to_thread=True, operation_class=plain_or_sealed(HwidChallenge),
          responses=sealed_answer(ChallengeVerificationAnswer,
                                  "The LicenseCM SDKs' challenge: `response` is HMAC-SHA256(key = hwid, message ="
                                  " challenge), and the license is valid on this device; `data` is signed."))
    def verify_challenge(self, request: Request[Any, Any, Any], data: AnyBody, runtime: RuntimeDep) -> ASGIResponse:
        """Proves nothing the call does not already show (docs/client-protocol.md, section 3): what
        `/challenge` proves, the holding of the product's secret, this cannot."""
        body = parse_body(runtime, request.scope, data, HwidChallenge, "challenge")
        granted = verify_hwid_challenge(runtime, request, body)
        payload = {"valid": True, "verified": True, **_licensed(runtime, granted, body.hwid)}
        return signed_answer(runtime, request.scope, granted.product, payload, body, body.session_token)

    @get("/public-key", sync_to_thread=True,
         responses=answer(PublicKeyAnswer, "The signing key of the product's algorithm (RSA-4096 without one).")
         | refused({404: "No product has this id (PRODUCT_NOT_FOUND)."}))
    def public_key(self, runtime: RuntimeDep, product_id: FromQuery[UUID | None] = None) -> Response[Any]:
        algorithm = SigningAlgorithm.RSA
        if product_id is not None:
            product = runtime.ledger.client_product(product_id)
            if product is None:
                raise ProductNotFoundError(product_id)
            algorithm = product.signing_algorithm
        key = runtime.signing_keys[algorithm]
        return ok({"public_key": key.public_pem, "key_id": key.key_id, "algorithm": algorithm.value})
