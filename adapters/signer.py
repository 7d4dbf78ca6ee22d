"""Answer signatures on the event loop, made where they cost the least (docs/decisions/0040, 0090).

RSA-4096 (milliseconds, releases the GIL) signs off the loop: on one batch thread per process when
every core already runs an API process, else on asyncio's default pool. Ed25519 (tens of µs) goes
to a child process when the wiring names one and the API processes leave a core free, else to a
batch thread there; with no core free the loop signs it itself.
"""

from __future__ import annotations

import asyncio
import os

from collections.abc import Callable
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization

from adapters.batches import BatchThread
from adapters.children import ChildLink


class Key(Protocol):
    """A signing key as keys/signing.py holds one."""

    algorithm: str
    private_key: Any


Sign = Callable[[Any, bytes], str]
"""keys.signing.sign: the base64 signature of a message under a private key."""


class AnswerSigner:
    """Signs with `sign`, on the loop or a thread as the process's share of the cores suits each algorithm."""

    def __init__(self, sign: Sign, api_processes: int = 1, child: str | None = None) -> None:
        """`child` names the handler factory a signing child runs (keys/signing_child.py), or None: no child."""
        cores = len(os.sched_getaffinity(0))
        share = max(1, cores // max(1, api_processes))
        self._sign = sign
        self._ed25519: BatchThread[tuple[Any, bytes], str] | None = None
        self._child: ChildLink | None = None
        self._child_keys: dict[int, int] = {}  # id(private key) -> its index in the child
        self._raw_keys: list[tuple[Any, bytes]] = []  # (the key, kept alive while indexed by id; its raw bytes)
        if cores > api_processes and child is not None:
            self._child = ChildLink(child, greeting=self._keys_for_child)
        elif cores > api_processes:
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
        if self._child is not None:
            return await self._child.submit([self._child_index(key.private_key), message])
        if self._ed25519 is None:
            return self._sign(key.private_key, message)
        return await self._ed25519.submit_async((key.private_key, message))

    def _child_index(self, private_key: Any) -> int:
        """The key's index in the child; a key seen first is sent to it, ahead of the message it signs."""
        index = self._child_keys.get(id(private_key))
        if index is None:
            assert self._child is not None
            index = self._child_keys[id(private_key)] = len(self._raw_keys)
            raw = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                            serialization.NoEncryption())
            self._raw_keys.append((private_key, raw))
            self._child.submit(["key", index, raw]).add_done_callback(_retrieved)
        return index

    def _keys_for_child(self) -> list[list[Any]]:
        """A (re)started child's first frame: every key it was given before."""
        return [["key", index, raw] for index, (_, raw) in enumerate(self._raw_keys)]

    def close(self) -> None:
        for batches in (self._ed25519, self._rsa_thread):
            if batches is not None:
                batches.close()
        if self._child is not None:
            self._child.close()

    def _sign_all(self, items: list[tuple[Any, bytes]]) -> list[str]:
        return [self._sign(private_key, message) for private_key, message in items]


def _retrieved(future: Any) -> None:
    """A key's delivery fails only with the child, and the signature that follows it says so."""
    if not future.cancelled():
        future.exception()
