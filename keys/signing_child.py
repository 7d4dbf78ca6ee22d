"""The signing child of an API process (adapters/children.py): Ed25519 answer signatures, batch after batch.

Its first frame carries the raw private keys, `["key", index, raw]` each; every other item is
`[index, message]`, answered with the base64 signature `keys.signing.sign` makes.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keys.signing import sign


def handler() -> Any:
    keys: dict[int, Ed25519PrivateKey] = {}

    def handle(items: list[Any]) -> list[Any]:
        results: list[Any] = []
        for item in items:
            if item[0] == "key":
                keys[item[1]] = Ed25519PrivateKey.from_private_bytes(item[2])
                results.append(None)
            else:
                results.append(sign(keys[item[0]], item[1]))
        return results

    return handle
