"""What the API is handed, typed by what it uses: the wiring (keyledger/wiring.py) supplies each."""

from __future__ import annotations

from typing import Protocol

from keys.signing import SigningKey


class EphemeralStore(Protocol):
    """Keys that expire; `claim` and `take` are atomic, so a value is used at most once."""

    def claim(self, key: str, ttl_seconds: float) -> bool: ...
    def put(self, key: str, value: str, ttl_seconds: float) -> None: ...
    def take(self, key: str) -> str | None: ...


class Signer(Protocol):
    """Signs answers without blocking the event loop for long."""

    async def sign(self, key: SigningKey, message: bytes) -> str: ...
