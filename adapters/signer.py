"""Answer signatures on the event loop, made where they cost the least (docs/decisions/0040).

RSA-4096 (milliseconds, releases the GIL) signs off the loop: on one batch thread per process when
every core already runs an API process, else on asyncio's default pool. Ed25519 (tens of µs) goes
to a batch thread when the API processes leave a core free; otherwise the loop signs it itself.
"""

from __future__ import annotations

import asyncio
import os

from collections.abc import Callable
from typing import Any, Protocol

from adapters.batches import BatchThread


class Key(Protocol):
    """A signing key as keys/signing.py holds one."""

    algorithm: str
    private_key: Any


Sign = Callable[[Any, bytes], str]
"""keys.signing.sign: the base64 signature of a message under a private key."""


class AnswerSigner:
    """Signs with `sign`, on the loop or a thread as the process's share of the cores suits each algorithm."""

    def __init__(self, sign: Sign, api_processes: int = 1) -> None:
        cores = len(os.sched_getaffinity(0))
        share = max(1, cores // max(1, api_processes))
        self._sign = sign
        self._ed25519: BatchThread[tuple[Any, bytes], str] | None = None
        if cores > api_processes:
            self._ed25519 = BatchThread("ed25519-signer", self._sign_all)
        self._rsa_thread: BatchThread[tuple[Any, bytes], str] | None = None
        if share == 1:
            self._rsa_thread = BatchThread("rsa-signer", self._sign_all)

    async def sign(self, key: Key, message: bytes) -> str:
        """The base64 signature of `message` under `key`."""
        if key.algorithm != "ed25519":
            if self._rsa_thread is not None:
                return await self._rsa_thread.submit_async((key.private_key, message))
            return await asyncio.to_thread(self._sign, key.private_key, message)
        if self._ed25519 is None:
            return self._sign(key.private_key, message)
        return await self._ed25519.submit_async((key.private_key, message))

    def close(self) -> None:
        for batches in (self._ed25519, self._rsa_thread):
            if batches is not None:
                batches.close()

    def _sign_all(self, items: list[tuple[Any, bytes]]) -> list[str]:
        return [self._sign(private_key, message) for private_key, message in items]
