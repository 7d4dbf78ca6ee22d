"""Answer signatures, made off the event loop.

Both primitives run in C without the GIL, so the loop need not wait for them: Ed25519
signatures (tens of microseconds) are made in batches on one thread, a batch per wake-up of
the loop; RSA-4096 signatures (milliseconds each) go one per pool thread, so every core signs.
"""

from __future__ import annotations

import asyncio

from commands.batches import BatchThread
from keys.signing import PrivateKey, SigningKey, sign


class AnswerSigner:
    def __init__(self) -> None:
        self._batches: BatchThread[tuple[PrivateKey, bytes], str] = BatchThread("ed25519-signer", _sign_all)

    async def sign(self, key: SigningKey, message: bytes) -> str:
        """The base64 signature of `message` under `key`."""
        if key.algorithm == "ed25519":
            return await self._batches.submit_async((key.private_key, message))
        return await asyncio.to_thread(sign, key.private_key, message)

    def close(self) -> None:
        self._batches.close()


def _sign_all(items: list[tuple[PrivateKey, bytes]]) -> list[str]:
    return [sign(private_key, message) for private_key, message in items]
