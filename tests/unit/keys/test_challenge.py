"""Challenge-response: fresh challenges, the spec's HMAC, and a constant-time check."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest

from keys.challenge import challenge_response, check_challenge_response, new_challenge

SECRET = "sk_live_000102030405060708090a0b0c0d0e0f1011121314151617"
CHALLENGE = "00" * 32
LICENSE_KEY = "ABCD-EFGH-IJKL-MNOP"
HWID = "hwid-test-001"
# The test vector of docs/client-protocol.md.
VECTOR_RESPONSE = "2a9804f30dcc7b93fa60d752abd5331fc41e0a8158bc57e7c50e108376c787df"


def test_new_challenge_is_64_hex_and_never_repeats():
    challenges = {new_challenge() for _ in range(1000)}

    # Check 32 random bytes, hex-encoded, with no repeats.
    assert len(challenges) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{64}", challenge) for challenge in challenges)


def test_response_is_hmac_of_challenge_license_key_and_hwid():
    response = challenge_response(SECRET, CHALLENGE, LICENSE_KEY, HWID)

    # Check the spec's formula, computed independently, and the pinned vector.
    message = (CHALLENGE + LICENSE_KEY + HWID).encode()
    assert response == hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest() == VECTOR_RESPONSE


def test_correct_response_passes_the_check_in_either_hex_case():
    response = challenge_response(SECRET, CHALLENGE, LICENSE_KEY, HWID)

    # Check the client's answer is accepted as lower or upper case hex.
    assert check_challenge_response(SECRET, CHALLENGE, LICENSE_KEY, HWID, response)
    assert check_challenge_response(SECRET, CHALLENGE, LICENSE_KEY, HWID, response.upper())


@pytest.mark.parametrize(
    ("secret", "challenge", "license_key", "hwid"),
    [
        ("sk_live_other", CHALLENGE, LICENSE_KEY, HWID),
        (SECRET, "11" * 32, LICENSE_KEY, HWID),
        (SECRET, CHALLENGE, "WXYZ-EFGH-IJKL-MNOP", HWID),
        (SECRET, CHALLENGE, LICENSE_KEY, "another-device"),
    ],
    ids=["other secret", "other challenge", "other license", "other device"],
)
def test_response_made_for_anything_else_fails_the_check(secret: str, challenge: str, license_key: str, hwid: str):
    response = challenge_response(secret, challenge, license_key, hwid)

    # Check the response is bound to the secret, the challenge, the license and the device.
    assert not check_challenge_response(SECRET, CHALLENGE, LICENSE_KEY, HWID, response)


@pytest.mark.parametrize("garbage", ["", "00" * 32, "not hex", "é" * 64, None, 42])
def test_garbage_response_fails_without_raising(garbage: Any):
    # Check non-ASCII and non-string answers are just wrong, never an exception.
    assert check_challenge_response(SECRET, CHALLENGE, LICENSE_KEY, HWID, garbage) is False
