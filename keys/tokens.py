"""Session tokens: random, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID


def new_session_token(session_id: UUID) -> str:
    """`<session id hex>.<256 random bits>`: the id finds the session, the rest proves possession."""
    return f"{session_id.hex}.{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_id_of(token: str) -> UUID | None:
    head, dot, tail = token.partition(".")
    if not dot or not tail or len(token) > 200:
        return None
    try:
        return UUID(hex=head)
    except ValueError:
        return None
