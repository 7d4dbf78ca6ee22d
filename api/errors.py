"""The one map from exceptions to (status, error_code) in the spec's error envelope."""

import logging
import sqlite3
from typing import Any

import msgspec
import psycopg
import redis.exceptions
from eventsourcing.persistence import InterfaceError, OperationalError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from psycopg_pool import PoolTimeout

from api import licensecm
from api.abuse import unknown_key
from api.client_protocol import ClientDataTooLargeError, answer, answers_licensecm_sdks
from api.envelope import error
from api.idempotency import (
    REPLAYED,
    IdempotencyKeyReusedError,
    InvalidIdempotencyKeyError,
    kept_answer_for,
)
from commands.accounts import InvalidCredentialsError, WrongPasswordError
from commands.retry import ContentionError, OutcomeUnknownError, StoreUnavailableError
from domain.account import AccountDeactivatedError, AccountNotFoundError, EmailAlreadyRegisteredError, LastAdminError
from domain.errors import ConflictError, DomainError, InvalidValueError, NotFoundError
from domain.idempotency import IdempotencyKeyUsedError
from domain.license import LicenseNotFoundError, MaxUsesBelowActivationsError
from domain.product import ProductNotFoundError
from domain.webhook import DeliveryNotFoundError, WebhookNotFoundError
from domain.refusals import BlacklistedError, ClientRefusedError, UnknownLicenseError, UnknownProductError
from projections.base import ReadModelsBehindError

log = logging.getLogger(__name__)


class NotificationNotFoundError(NotFoundError):
    """Raised when a notification does not exist or belongs to another account."""


class Unauthorized(DomainError):
    """Raised when a request lacks a valid token for an active account."""


class Forbidden(DomainError):
    """Raised when a signed-in account lacks the role an endpoint requires."""


# Most specific first: the first matching class wins.
DOMAIN_ERRORS: list[tuple[type[Exception], int, str, str]] = [
    (LicenseNotFoundError, 404, "LICENSE_NOT_FOUND", "License not found"),
    (ProductNotFoundError, 404, "PRODUCT_NOT_FOUND", "Product not found"),
    (AccountNotFoundError, 404, "USER_NOT_FOUND", "User not found"),
    (NotificationNotFoundError, 404, "NOTIFICATION_NOT_FOUND", "Notification not found"),
    (WebhookNotFoundError, 404, "WEBHOOK_NOT_FOUND", "Webhook not found"),
    (DeliveryNotFoundError, 404, "DELIVERY_NOT_FOUND", "Delivery not found"),
    (NotFoundError, 404, "NOT_FOUND", "Resource not found"),
    (InvalidCredentialsError, 401, "INVALID_CREDENTIALS", "Invalid email or password"),
    (WrongPasswordError, 403, "INVALID_CREDENTIALS", "The current password is wrong"),
    (Unauthorized, 401, "UNAUTHORIZED", "Authentication required"),
    (AccountDeactivatedError, 403, "ACCOUNT_DEACTIVATED", "Account is deactivated"),
    (Forbidden, 403, "FORBIDDEN", "Insufficient permissions"),
    (EmailAlreadyRegisteredError, 409, "EMAIL_ALREADY_REGISTERED", "Email is already registered"),
    (LastAdminError, 409, "LAST_ADMIN", "The server must keep at least one active admin"),
    (MaxUsesBelowActivationsError, 409, "MAX_USES_BELOW_ACTIVATIONS",
     "max_uses cannot be lower than the number of activated devices; reset the HWID first"),
    (ContentionError, 409, "CONFLICT", "The resource is busy; retry the request"),
    (ConflictError, 409, "CONFLICT", "Resource already exists"),
]

HTTP_CODES = {
    400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
}


# The client API's refusals: the spec's error codes, with the status each deserves.
CLIENT_STATUS = {
    "LICENSE_NOT_FOUND": 404, "PRODUCT_NOT_FOUND": 404, "SESSION_EXPIRED": 401, "LICENSE_SUSPENDED": 403,
    "LICENSE_EXPIRED": 403, "HWID_MISMATCH": 403, "MAX_USES_EXCEEDED": 403, "BLACKLISTED": 403,
    "SECURITY_VIOLATION": 403, "RATE_LIMIT_EXCEEDED": 429,
}

# Lockence documents 401 for a bad API key, 403 for expired/disabled/HWID, 404 for an unknown key or session.
LOCKENCE_ANSWERS = {
    "LICENSE_NOT_FOUND": (404, "Invalid license key"), "PRODUCT_NOT_FOUND": (401, "Invalid API key"),
    "SESSION_EXPIRED": (404, "Session not found or expired"), "LICENSE_SUSPENDED": (403, "License disabled"),
    "LICENSE_EXPIRED": (403, "License expired"), "HWID_MISMATCH": (403, "HWID mismatch"),
    "MAX_USES_EXCEEDED": (403, "Maximum activations reached"), "BLACKLISTED": (403, "Access denied"),
    "SECURITY_VIOLATION": (403, "Security check failed"), "RATE_LIMIT_EXCEEDED": (429, "Too many requests"),
}


def client_refusal_response(request: Request[Any, Any, Any], exc: ClientRefusedError) -> Response[Any]:
    """The spec's error envelope (with `security_blocked` for blacklist hits), sealed if the request was; in the
    LicenseCM SDKs' words for a product that answers them (api/licensecm.py)."""
    runtime = request.app.state.runtime
    if isinstance(exc, UnknownLicenseError):
        unknown_key(runtime, request.scope)  # brute-force defence (api/abuse.py)
    if answers_licensecm_sdks(runtime, request.scope, exc.product_id):
        body = licensecm.refusal_body(exc, heartbeat=request.scope["path"].endswith("/heartbeat"))
        return answer(runtime, request.scope, body, CLIENT_STATUS[exc.code])
    body: dict[str, Any] = {"success": False, "message": exc.detail, "error_code": exc.code}
    if isinstance(exc, BlacklistedError):
        body |= {"security_blocked": True,
                 "security_details": {"reason": "blacklist_hit", "type": exc.blacklist_type}}
    return answer(request.app.state.runtime, request.scope, body, CLIENT_STATUS[exc.code])


def lockence_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Lockence's flat error shape for every refusal under /api/v1."""
    if isinstance(exc, ProductNotFoundError):
        exc = UnknownProductError()
    if not isinstance(exc, ClientRefusedError):
        return domain_error_response(request, exc)
    if isinstance(exc, UnknownLicenseError):
        unknown_key(request.app.state.runtime, request.scope)  # brute-force defence (api/abuse.py)
    status, message = LOCKENCE_ANSWERS[exc.code]
    return error(status, message, exc.code)


def domain_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, ClientRefusedError):
        return client_refusal_response(request, exc)
    if isinstance(exc, InvalidValueError):
        return error(400, str(exc), "VALIDATION_ERROR")
    for exc_type, status, code, message in DOMAIN_ERRORS:
        if isinstance(exc, exc_type):
            return error(status, str(exc) if exc_type in (Unauthorized, Forbidden) and str(exc) else message, code)
    return internal_error_response(request, exc)


def http_error_response(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        return error(400, _validation_message(exc), "VALIDATION_ERROR")
    if status >= 500:
        return internal_error_response(request, exc)
    response = error(status, exc.detail or "Request failed", HTTP_CODES.get(status, "BAD_REQUEST"))
    response.headers.update(exc.headers or {})  # a 405's `Allow` (RFC 9110) among them
    return response


def schema_error_response(request: Request[Any, Any, Any], exc: msgspec.ValidationError) -> Response[Any]:
    """A client body that fails its schema; sealed when it arrived in an envelope that opened."""
    body = {"success": False, "message": str(exc), "error_code": "VALIDATION_ERROR"}
    return answer(request.app.state.runtime, request.scope, body, 400)


def client_data_too_large_response(request: Request[Any, Any, Any], exc: ClientDataTooLargeError) -> Response[Any]:
    """Bad input like a body over the limit, and answered the same way: 413, sealed when the request was."""
    body = {"success": False, "message": str(exc), "error_code": "PAYLOAD_TOO_LARGE"}
    return answer(request.app.state.runtime, request.scope, body, 413)


def read_models_behind_response(request: Request[Any, Any, Any], exc: ReadModelsBehindError) -> Response[Any]:
    """The change is recorded, but the answer would have to be read from read models that lag behind it."""
    response = error(503, "The change was recorded, but the read models have not caught up with it yet;"
                     " read it again in a moment (do not repeat the change)", "READ_MODELS_BEHIND",
                     position=exc.position)
    response.headers["Retry-After"] = "1"
    return response


def unavailable_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database or Redis cannot be reached: nothing was recorded, so the request may be sent again."""
    log.warning("%s %s: a service is unreachable: %s: %s", request.method, request.url.path,
                type(exc).__name__, exc)
    response = error(503, "The service cannot reach its storage right now; send the request again in a moment",
                     "SERVICE_UNAVAILABLE")
    response.headers["Retry-After"] = "2"
    return response


def outcome_unknown_response(request: Request[Any, Any, Any], exc: OutcomeUnknownError) -> Response[Any]:
    """A write was sent, and the store could not then tell whether it was recorded."""
    log.error("%s %s: outcome unknown: %s", request.method, request.url.path, exc.__cause__ or exc)
    response = error(503, "The change may or may not have been recorded: send it again with the same"
                     " Idempotency-Key, or check before repeating it", "OUTCOME_UNKNOWN")
    response.headers["Retry-After"] = "2"
    return response


def idempotency_key_used_response(request: Request[Any, Any, Any], exc: IdempotencyKeyUsedError) -> Response[Any]:
    """A retry whose key already recorded its write: the first answer again, or 409 while there is none."""
    kept = kept_answer_for(request.app.state.runtime, exc)
    if kept is not None:
        return Response(kept.body, status_code=kept.status, media_type="application/json",
                        headers={REPLAYED[0].decode(): REPLAYED[1].decode()})
    response = error(409, "A request with this Idempotency-Key recorded its change, and its answer is not"
                     " available (yet): retry in a moment, or read what it recorded", "IDEMPOTENCY_KEY_IN_USE",
                     recorded_ids=[str(recorded) for recorded in exc.recorded_ids])
    response.headers["Retry-After"] = "1"
    return response


def idempotency_key_reused_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return error(422, "This Idempotency-Key was sent with a different request", "IDEMPOTENCY_KEY_REUSED")


def invalid_idempotency_key_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return error(400, str(exc), "VALIDATION_ERROR")


def internal_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "Internal server error", "INTERNAL_ERROR")


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = [f"{e.get('key', '')}: {e.get('message', '')}".strip(": ") for e in extra if isinstance(e, dict)]
    return "; ".join(details) or exc.detail or "Invalid request"


UNAVAILABLE: tuple[type[Exception], ...] = (
    StoreUnavailableError, OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError,
    PoolTimeout, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, sqlite3.OperationalError,
    ConnectionError,  # a helper process of the API process gone (adapters/children.py), among others
)
"""What a database or Redis that cannot be reached raises, however it reaches the API."""

EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    DomainError: domain_error_response,
    IdempotencyKeyUsedError: idempotency_key_used_response,
    IdempotencyKeyReusedError: idempotency_key_reused_response,
    InvalidIdempotencyKeyError: invalid_idempotency_key_response,
    OutcomeUnknownError: outcome_unknown_response,
    **dict.fromkeys(UNAVAILABLE, unavailable_response),
    HTTPException: http_error_response,
    msgspec.ValidationError: schema_error_response,
    ClientDataTooLargeError: client_data_too_large_response,
    ReadModelsBehindError: read_models_behind_response,
    Exception: internal_error_response,
}
