"""JWT sessions for vendors: HS256 tokens (pyjwt) checked against the accounts read model."""

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from litestar import Request
from litestar.datastructures import State

from api.actors import signed_in
from api.errors import Forbidden, Unauthorized
from api.ports import Services
from domain.account import Actor
from projections.base import ReadModelsBehindError
from projections import accounts

ISSUER = "keyledger"
IAT_LEEWAY_SECONDS = 30
"""How far ahead of our clock a token's issue time may be (clocks of several API processes differ a little)."""


def issue_token(runtime: Services, account_id: str, now: datetime, epoch: int) -> str:
    """A token for the account, of its current token epoch (`ep`): changing the password or deactivating the
    account starts a new epoch, which ends every token made before it (projections/accounts.py)."""
    claims = {
        "sub": account_id, "iss": ISSUER, "iat": now, "jti": uuid.uuid4().hex, "ep": epoch,
        "exp": now + timedelta(seconds=runtime.settings.jwt_ttl_seconds),
    }
    return jwt.encode(claims, runtime.jwt_secret, algorithm="HS256")


def _bearer(request: Request[Any, Any, Any]) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: Bearer <token> required")
    return token.strip()


def _claims(runtime: Services, token: str) -> dict[str, Any]:
    """Verify signature and issuer with pyjwt; expiry and issue time against the runtime's clock (time is
    passed in)."""
    try:
        claims = jwt.decode(token, runtime.jwt_secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "jti"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.PyJWTError:
        raise Unauthorized("Invalid token") from None
    now = runtime.clock().timestamp()
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
        raise Unauthorized("Token expired")
    if not isinstance(claims["iat"], int | float) or claims["iat"] > now + IAT_LEEWAY_SECONDS:
        raise Unauthorized("Token issued in the future")
    return claims


def current_account(request: Request[Any, Any, Any], state: State) -> dict[str, Any]:
    """The signed-in, still active account (deactivated accounts' tokens stop working, and so do refreshed
    tokens)."""
    runtime: Services = state.runtime
    claims = _claims(runtime, _bearer(request))
    account = accounts.get_account_for_token(runtime.store, str(claims["sub"]), str(claims["jti"]))
    if account is None or not account["is_active"]:
        raise Unauthorized("Account is not active")
    if account.pop("token_retired"):
        raise Unauthorized("Token was refreshed; use the new one")
    if claims.get("ep", 0) != account["token_epoch"]:  # tokens made before "ep" existed are of epoch 0
        raise Unauthorized("Token was ended by a password change; sign in again")
    signed_in(account)  # the events this request records name the account (api/actors.py)
    return account


def refresh_token(request: Request[Any, Any, Any], runtime: Services, account: dict[str, Any]) -> str:
    """A new token for the signed-in account; the one presented is retired first, on every API process."""
    claims, now = _claims(runtime, _bearer(request)), runtime.clock()
    expires_at = datetime.fromtimestamp(claims["exp"], timezone.utc)
    receipt = runtime.ledger.retire_token(uuid.UUID(account["id"]), str(claims["jti"]), expires_at, now)
    try:
        runtime.wait_for(receipt.position, ("accounts",))
    except ReadModelsBehindError:
        pass  # the retirement is recorded and takes effect as the read models catch up; a 503 would lose both tokens
    return issue_token(runtime, account["id"], now, account["token_epoch"])


def current_actor(account: dict[str, Any]) -> Actor:
    return Actor(uuid.UUID(account["id"]), is_admin=account["role"] == "admin")


def require_admin(account: dict[str, Any]) -> dict[str, Any]:
    if account["role"] != "admin":
        raise Forbidden("Admin access required")
    return account


def account_id_of(runtime: Services, scope: Any) -> uuid.UUID | None:
    """The account a request's bearer token names, if the token is genuine and current; None otherwise
    (the route's own authentication then answers)."""
    header = next((value for name, value in scope["headers"] if name == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return uuid.UUID(str(_claims(runtime, token.strip())["sub"]))
    except (Unauthorized, ValueError):
        return None
