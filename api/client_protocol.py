"""The client protocol: plain or encrypted requests in, signed (and re-encrypted) answers out.

An encrypted request is opened here (HMAC, ±5 minutes, replay cache, AES-256-GCM); its
plaintext is then validated like a plain body. The answer to an encrypted request is sealed
in the same envelope, refusals included, so a client never has to guess which it received.
"""

import asyncio
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import msgspec
from litestar import Response
from litestar.enums import MediaType
from litestar.response.base import ASGIResponse
from litestar.serialization import encode_json
from litestar.types import HTTPScope

from api import licensecm
from api.actors import client_call
from api.ports import Services
from api.text import has_nul
from api.ratelimit import check_client
from domain.client_call import ClientRequest
from domain.product import ClientCompatibility, Product, SigningAlgorithm
from domain.refusals import SecurityViolationError, UnknownProductError
from keys.envelope import (
    IV_BYTES,
    SHORT_IV_BYTES,
    Derivation,
    EnvelopeError,
    open_envelope_as,
    replay_key,
    seal_envelope,
)
from keys.signing import SigningKey, answer_message, sign, sign_pkcs1_sha512
from keys.watermark import watermark
from projections.base import iso

T = TypeVar("T")
REPLAY_WINDOW_SECONDS = 600


@lru_cache(maxsize=16384)  # each answer writes its product's and license's ids; str(UUID) is Python code
def id_text(value: UUID) -> str:
    return str(value)


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def parse_body(runtime: Services, scope: HTTPScope, raw: Any, schema: type[T], action: str) -> T:
    """The request as `schema`, decrypting it first when it arrives in the envelope."""
    if is_sealed(raw):
        raw = _open(runtime, scope, raw, action)
    return msgspec.convert(raw, schema, strict=True)


async def parse_body_async(runtime: Services, scope: HTTPScope, raw: Any, schema: type[T], action: str) -> T:
    """`parse_body` on an event loop: an envelope is opened in a thread (product lookup, replay cache)."""
    if is_sealed(raw):
        return await asyncio.to_thread(parse_body, runtime, scope, raw, schema, action)
    return msgspec.convert(raw, schema, strict=True)


def is_sealed(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("encrypted") is True


def _open(runtime: Services, scope: HTTPScope, envelope: dict[str, Any], action: str) -> Any:
    """The request inside the envelope; its answer will be sealed the way the request was (`Sealing`)."""
    product_id = _uuid(envelope.get("product_id"))
    product = runtime.ledger.client_product(product_id)
    if product is None:
        raise UnknownProductError()
    secret = runtime.ledger.reveal_product_secret(product)
    licensecm = product.client_compatibility is ClientCompatibility.LICENSECM_SDK
    try:
        payload, derivation = open_envelope_as(secret, envelope, epoch_ms(runtime.clock()), licensecm_first=licensecm)
    except EnvelopeError as error:
        _refuse(runtime, scope, action, product_id, SecurityViolationError(str(error), error.security_event_type))
    if not runtime.ephemeral.claim("replay:" + replay_key(envelope), REPLAY_WINDOW_SECONDS):
        _refuse(runtime, scope, action, product_id,
                SecurityViolationError("Request was already used", security_event="replay_attack"))
    # The LicenseCM SDKs open answers with a 12-byte iv, or the first 12 bytes of any (Go, Rust): a 12-byte iv
    # is the one they all open; our own clients send, and get, 16 bytes.
    iv_bytes = SHORT_IV_BYTES if licensecm or derivation.nonce_bytes or len(envelope["iv"]) == 24 else IV_BYTES
    _seal_answers(scope, Sealing(secret, str(product_id), Derivation(derivation.key), iv_bytes, not licensecm))
    if has_nul(payload):  # what api/requests.py refuses in a plain body (api/text.py)
        raise msgspec.ValidationError("Text may not contain the NUL character (\\u0000)")
    return payload


def answers_licensecm_sdks(runtime: Services, scope: HTTPScope, product_id: UUID | None) -> bool:
    """Whether a call to this product is answered in the LicenseCM SDKs' way: its envelope said so, or the
    product as the client path last loaded it."""
    sealing = scope.get("state", {}).get(SEALED_WITH)
    return (sealing is not None and not sealing.refusals) or runtime.ledger.answers_licensecm_sdks(product_id)


class Sealing(NamedTuple):
    """How the answers to an encrypted request are sealed: with the key that opened it, and an iv its client
    opens. Refusals are sealed too, except for the LicenseCM SDKs: Python reads a refusal (4xx) without
    opening it, and every SDK that opens answers reads a plain one as it is."""

    secret: str
    product_id: str
    key: Derivation
    iv_bytes: int
    refusals: bool


SEALED_WITH = "keyledger.sealed_with"
"""Where a request's scope state keeps the `Sealing` of its answers (None or absent: plain).

Read straight off the ASGI scope's state dict: building `request.state` costs more than the rest of `answer`."""


def _seal_answers(scope: HTTPScope, sealing: Sealing | None) -> None:
    scope.setdefault("state", {})[SEALED_WITH] = sealing  # type: ignore[misc]


def _refuse(runtime: Services, scope: HTTPScope, action: str, product_id: UUID | None,
            refusal: SecurityViolationError) -> None:
    runtime.ledger.record_refusal(action, client_request(runtime, scope, "", product_id, None, limited=False), refusal)
    raise refusal


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


MAX_CLIENT_DATA_BYTES = 16 * 1024
"""The most `client_data` may take, encoded: every SDK's is well under 1 KiB (docs/decisions/0004)."""


class ClientDataTooLargeError(ValueError):
    """Raised when a request's `client_data` encodes to more than MAX_CLIENT_DATA_BYTES (answered 413)."""


def client_request(runtime: Services, scope: HTTPScope, license_key: str, product_id: UUID | None,
                   hwid: str | None, client_data: Any = None, limited: bool = True) -> ClientRequest:
    """The domain's view of a call: who (ip, user agent), what (key, product, device), when; read off the ASGI
    scope alone, so that the direct validation path (api/direct.py) can use it without a Litestar request. Unless
    told it is not `limited` (a refusal being recorded), the call is counted against its rate limits here."""
    if limited:
        check_client(runtime, scope, product_id, license_key, hwid)
    client = scope.get("client")
    return client_call(ClientRequest(license_key, product_id, hwid, client[0] if client else None,
                                     _user_agent(scope), runtime.clock(), bounded(client_data) if client_data else None))


def bounded(client_data: Any) -> Any:
    """`client_data` as sent, if it is small enough to keep; it is never refused for anything else."""
    if len(msgspec.json.encode(client_data)) > MAX_CLIENT_DATA_BYTES:
        raise ClientDataTooLargeError(f"client_data may take at most {MAX_CLIENT_DATA_BYTES // 1024} KiB")
    return client_data


def _user_agent(scope: HTTPScope) -> str | None:
    """The User-Agent header, read straight off the ASGI scope (building `request.headers` costs more)."""
    for name, value in scope["headers"]:
        if name == b"user-agent":
            return value.decode("latin-1")[:500] or None
    return None


def signed(runtime: Services, product: Product, data: dict[str, Any], request: Any,
           session_token: str | None = None) -> dict[str, Any]:
    """Bind the answer to its question (product, key, device, nonce) and the server time, then sign it; in the
    LicenseCM SDKs' way for a product that asks for it (api/licensecm.py), which also hands back the call's
    `session_token`."""
    if product.client_compatibility is ClientCompatibility.LICENSECM_SDK:
        key, data = _bound(runtime, product, licensecm.shaped(data, session_token), request, rsa=True)
        payload, message = licensecm.signed_payload(data)
        return {**data, "data": payload, "signature": sign_pkcs1_sha512(key.private_key, message)}  # type: ignore[arg-type]
    key, data = _bound(runtime, product, data, request)
    return {**data, "signature": sign(key.private_key, answer_message(data))}


def _bound(runtime: Services, product: Product, data: dict[str, Any], request: Any,
           at: datetime | None = None, rsa: bool = False) -> tuple[SigningKey, dict[str, Any]]:
    """The answer as signed: naming the product, license key and HWID inside it means a proxy cannot hand a
    client the genuinely signed answer for some other license it owns; time and nonce stop replays. Its
    time is `at`, else now; its key the product's, or the RSA key (`rsa`)."""
    key = runtime.signing_keys[SigningAlgorithm.RSA if rsa else product.signing_algorithm]
    data = {**data, "timestamp": iso(at or runtime.clock()), "key_id": key.key_id, "product_id": id_text(product.id),
            "license_key": request.license_key, "hwid": request.hwid}
    if request.nonce is not None:
        data["nonce"] = request.nonce
    return key, data


def signed_answer(runtime: Services, scope: HTTPScope, product: Product, data: dict[str, Any],
                  body: Any, session_token: str | None = None) -> ASGIResponse:
    """The success envelope around signed `data`, sealed when the request was."""
    return success(runtime, scope, signed(runtime, product, data, body, session_token))


async def signed_answer_async(runtime: Services, scope: HTTPScope, product: Product, data: dict[str, Any],
                              body: Any, at: datetime | None = None) -> bytes:
    """`signed_answer` on an event loop, encoded (`success_body`): an RSA signature is made off the loop
    (adapters/signer.py). Its time is `at`, else now."""
    if product.client_compatibility is ClientCompatibility.LICENSECM_SDK:
        return await _licensecm_answer_async(runtime, scope, product, data, body, at)
    key, data = _bound(runtime, product, data, body, at)
    signature = await runtime.signer.sign(key, answer_message(data))
    return success_body(runtime, scope, {**data, "signature": signature})


async def _licensecm_answer_async(runtime: Services, scope: HTTPScope, product: Product, data: dict[str, Any],
                                  body: Any, at: datetime | None) -> bytes:
    key, data = _bound(runtime, product, licensecm.shaped(data, body.session_token), body, at, rsa=True)
    payload, message = licensecm.signed_payload(data)
    signature = await asyncio.to_thread(sign_pkcs1_sha512, key.private_key, message)  # type: ignore[arg-type]
    return success_body(runtime, scope, {**data, "data": payload, "signature": signature})


def license_view(license: Any) -> dict[str, Any]:
    return {"type": license.license_type.value, "expires_at": iso(license.expires_at), "metadata": license.metadata}


def device_watermark(runtime: Services, license_id: UUID, hwid: str) -> str:
    return watermark(runtime.master_key, id_text(license_id), hwid)


def answer(runtime: Services, scope: HTTPScope, body: dict[str, Any], status_code: int = 200) -> Response[Any]:
    """Send the refusal `body`, sealed in the envelope when the request came in one and its product seals
    refusals (what the error handlers answer)."""
    return Response(_sealed(runtime, scope, body, refusal=True), status_code=status_code)


def success(runtime: Services, scope: HTTPScope, data: dict[str, Any]) -> ASGIResponse:
    """The success envelope around `data`, sealed when the request was, encoded here: a handler returning it
    skips Litestar's response machinery (decision 0024)."""
    return json_response(success_body(runtime, scope, data))


def success_body(runtime: Services, scope: HTTPScope, data: dict[str, Any]) -> bytes:
    """The encoded success envelope around `data`, sealed when the request was."""
    return encode_json(_sealed(runtime, scope, {"success": True, "data": data}))


def json_response(body: bytes) -> ASGIResponse:
    return ASGIResponse(body=body, media_type=MediaType.JSON)


def _sealed(runtime: Services, scope: HTTPScope, body: dict[str, Any], refusal: bool = False) -> dict[str, Any]:
    sealing = scope.get("state", {}).get(SEALED_WITH)
    if sealing and (sealing.refusals or not refusal):
        body = seal_envelope(sealing.secret, sealing.product_id, body, epoch_ms(runtime.clock()), key=sealing.key,
                             iv_bytes=sealing.iv_bytes)
    return body
