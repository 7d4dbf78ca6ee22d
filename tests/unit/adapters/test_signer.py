"""Answers are signed the same wherever the signature is made: on the loop, on a batch thread or a pool thread."""

from __future__ import annotations

import asyncio
import os

import pytest

from adapters.signer import AnswerSigner
from keys.signing import sign, signing_key_from_pem, verify


@pytest.fixture(scope="module")
def keys(signing_pems):
    return {name: signing_key_from_pem(pem) for name, pem in signing_pems.items()}


@pytest.mark.parametrize("api_processes", [1, len(os.sched_getaffinity(0))], ids=["core to spare", "no core to spare"])
@pytest.mark.parametrize("key_file", ["ed25519.pem", "rsa-4096.pem"])
def test_concurrent_answers_each_get_their_own_valid_signature(keys, key_file, api_processes):
    key = keys[key_file]
    signer = AnswerSigner(sign, api_processes)
    messages = [f"answer {n}".encode() for n in range(20)]

    async def sign_all():
        return await asyncio.gather(*(signer.sign(key, message) for message in messages))

    signatures = asyncio.run(sign_all())
    signer.close()

    # Check every caller got the signature of its own message, however the batch was split.
    assert all(verify(key.private_key.public_key(), message, signature) for message, signature in zip(messages, signatures))
    assert not verify(key.private_key.public_key(), messages[0], signatures[1])
