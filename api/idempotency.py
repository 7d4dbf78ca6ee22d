"""`Idempotency-Key` on vendor writes: a retry with the same key gets the first answer and writes nothing new.

What makes it safe is on the write side: the key's aggregate is saved in the same atomic save as the write
(commands/idempotency.py), so a retry in any process, at any moment, records nothing new. The first answer is kept
beside the read models (adapters/answers.py) for RETENTION and replayed as it was sent, marked
`Idempotent-Replayed: true`; a key sent again with another request answers 422. Until the first answer is kept (its
request is still running, or it ended without one) a retry answers 409 naming what the write recorded. Keys belong
to the account whose token sent them (docs/decisions/0002-idempotency-keys.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from commands.idempotency import CLAIM, Claim, claimed
from domain.idempotency import RETENTION, IdempotencyKeyUsedError

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENT_PATHS = ("/api/products", "/api/licenses", "/api/admin", "/api/notifications", "/api/webhooks")
MAX_KEY = 255
KEY_PATTERN = "^[ -~]+$"  # printable ASCII
_KEY = re.compile(KEY_PATTERN)


_UNDER = tuple(root + "/" for root in IDEMPOTENT_PATHS)


def takes_idempotency_key(method: str, path: str) -> bool:
    """Whether a request is a vendor write, which accepts an `Idempotency-Key` (the OpenAPI document says so
    from this too, api/openapi.py)."""
    return method in WRITES and (path.startswith(_UNDER) or path in IDEMPOTENT_PATHS)


@dataclass(frozen=True)
class KeptAnswer:
    """What a write sent with a key answered: its request's fingerprint, the status and the JSON body."""

    fingerprint: str
    status: int
    body: bytes


class AnswerStore(Protocol):
    """Where first answers are kept (adapters/answers.py)."""

    def get(self, key_id: UUID, now: datetime) -> KeptAnswer | None: ...
    def put(self, key_id: UUID, answer: KeptAnswer, now: datetime, expires_at: datetime) -> None: ...


class InvalidIdempotencyKeyError(ValueError):
    """Raised when an `Idempotency-Key` header is empty, too long or not printable ASCII."""


class IdempotencyKeyReusedError(Exception):
    """Raised when a key comes back with a request other than the one it was first sent with."""


class IdempotencyMiddleware(ASGIMiddleware):
    """Vendor writes (`takes_idempotency_key`) sent with the header, by a signed-in account."""

    scopes = (ScopeType.HTTP,)

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:
        return not takes_idempotency_key(scope["method"], scope["path"])

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        from api.auth import account_id_of  # api.auth imports api.errors, which imports this module

        key = _header(scope, HEADER)
        runtime = scope["litestar_app"].state.runtime
        account_id = None if key is None else account_id_of(runtime, scope)
        if account_id is None:  # no key, or nobody signed in: the route answers as it always does
            await next_app(scope, receive, send)
            return
        if len(key) > MAX_KEY or not _KEY.match(key):
            raise InvalidIdempotencyKeyError(f"Idempotency-Key must be 1-{MAX_KEY} printable ASCII characters")
        body = await _body(receive, scope["litestar_app"].request_max_body_size)
        claim = Claim(account_id, key, fingerprint(scope, body), runtime.clock())
        answers: AnswerStore = runtime.answers
        stored = await asyncio.to_thread(answers.get, claim.key_id, claim.at)
        if stored is not None:
            await replay(stored, claim, send)
            return
        answer = _Answer(send)
        with claimed(claim):
            await next_app(scope, _replaying(body), answer.send)
        if 200 <= answer.status < 300 and not answer.replayed:
            await _keep(answers, claim, KeptAnswer(claim.fingerprint, answer.status, answer.body))
        await answer.flush()


async def _keep(answers: AnswerStore, claim: Claim, kept: KeptAnswer) -> None:
    """Keep the answer for retries. Should that fail, the write still stands and is answered: a retry then
    hears 409 with what it recorded, and writes nothing (the key is saved with the write)."""
    try:
        await asyncio.to_thread(answers.put, claim.key_id, kept, claim.at, claim.at + RETENTION)
    except Exception:  # noqa: BLE001 - whatever the store raised, the answer goes out
        log.warning("the answer to a write with an Idempotency-Key could not be kept", exc_info=True)


def fingerprint(scope: Scope, body: bytes) -> str:
    """What makes two requests the same: method, path, query and body."""
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


async def replay(stored: KeptAnswer, claim: Claim, send: Send) -> None:
    """Send the first answer again; refuse (422) a key sent with another request."""
    if stored.fingerprint != claim.fingerprint:
        raise IdempotencyKeyReusedError(claim.key)
    await send({"type": "http.response.start", "status": stored.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(stored.body)), REPLAYED]})
    await send({"type": "http.response.body", "body": stored.body})


def kept_answer_for(runtime: Any, error: IdempotencyKeyUsedError) -> KeptAnswer | None:
    """The first answer to the write the current request's key recorded, if it was kept; 422 if the key
    recorded another request's write."""
    claim = CLAIM.get()
    if claim is None:
        return None
    if error.fingerprint != claim.fingerprint:
        raise IdempotencyKeyReusedError(claim.key)
    return runtime.answers.get(claim.key_id, runtime.clock())  # type: ignore[no-any-return]


class _Answer:
    """Holds the answer until it is kept, so a retry can never arrive before it can be replayed."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._messages: list[Message] = []
        self.status = 0
        self.replayed = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.replayed = REPLAYED in message.get("headers", ())
        self._messages.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self._messages if m["type"] == "http.response.body")

    async def flush(self) -> None:
        for message in self._messages:
            await self._send(message)


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope["headers"]:
        if header == name:
            return value.decode("latin-1")
    return None


async def _body(receive: Receive, limit: int | None) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if limit is not None and size > limit:
            raise HTTPException(status_code=413, detail="Request body too large")
        if not message.get("more_body"):
            return b"".join(parts)


def _replaying(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive  # type: ignore[return-value]
