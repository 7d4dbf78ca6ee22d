"""Answer signatures on the event loop, made where they cost the least.

Ed25519 (about 45 µs) is signed on the loop itself: handing it to a thread costs more than
the signature, in wake-ups and in the GIL passing back and forth. RSA-4096 (about 5 ms) goes
to a pool thread, one signature each; it runs in C without the GIL, so the loop serves other
requests meanwhile and every core signs.
"""

from __future__ import annotations

import asyncio

from keys.signing import SigningKey, sign


async def sign_answer(key: SigningKey, message: bytes) -> str:
    """The base64 signature of `message` under `key`."""
    if key.algorithm == "ed25519":
        return sign(key.private_key, message)
    return await asyncio.to_thread(sign, key.private_key, message)
