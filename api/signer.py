"""Answer signatures on the event loop, made where they cost the least.

RSA-4096 (about 5 ms) always goes to a pool thread, one signature each; it runs in C without
the GIL, so the loop serves other requests meanwhile and every core signs. Ed25519 (about
45 µs) depends on the cores: when the API processes leave one free (the embedded default, one
process on a multi-core machine), a batch of signatures goes to one thread per wake-up and
runs beside the loop; when every core already runs an API process, the thread would only
compete with the loop, and its hand-overs cost more than the signature, so the loop signs.
"""

from __future__ import annotations

import asyncio
import os

from commands.batches import BatchThread
from keys.signing import PrivateKey, SigningKey, sign


class AnswerSigner:
    def __init__(self, api_processes: int = 1) -> None:
        self._batches: BatchThread[tuple[PrivateKey, bytes], str] | None = None
        if len(os.sched_getaffinity(0)) > api_processes:
            self._batches = BatchThread("ed25519-signer", _sign_all)

    async def sign(self, key: SigningKey, message: bytes) -> str:
        """The base64 signature of `message` under `key`."""
        if key.algorithm != "ed25519":
            return await asyncio.to_thread(sign, key.private_key, message)
        if self._batches is None:
            return sign(key.private_key, message)
        return await self._batches.submit_async((key.private_key, message))

    def close(self) -> None:
        if self._batches is not None:
            self._batches.close()


def _sign_all(items: list[tuple[PrivateKey, bytes]]) -> list[str]:
    return [sign(private_key, message) for private_key, message in items]
