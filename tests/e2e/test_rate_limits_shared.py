"""Two `keyledger serve` processes on one PostgreSQL and one Redis share their rate limits: a client's calls
count once, whichever process answers them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL, REDIS_URL, throwaway_schema
from tests.e2e.conftest import Server

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
VALIDATION = 4


@pytest.fixture
def two_servers(tmp_path: Path):
    with throwaway_schema("kl_e2e") as schema:
        servers = [Server(tmp_path / "var", f"{POSTGRES_URL}?schema={schema}") for _ in range(2)]
        try:
            for server in servers:
                server.env |= {"KEYLEDGER_REDIS_URL": REDIS_URL, "KEYLEDGER_RATE_LIMIT_VALIDATION": str(VALIDATION)}
                server.start()
            yield servers
        finally:
            for server in servers:
                server.stop()


def test_two_api_processes_share_one_client_limit(two_servers):
    first, second = two_servers
    token = httpx.post(f"{first.base}/auth/register", json={"email": "v@example.com", "password": "secret123"}
                       ).json()["data"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    product = httpx.post(f"{first.base}/products", json={"name": "App", "signing_algorithm": "ed25519"},
                         headers=headers).json()["data"]
    license = httpx.post(f"{first.base}/licenses", json={"product_id": product["id"], "type": "lifetime",
                                                          "max_uses": 1, "hwid_locked": False}, headers=headers
                         ).json()["data"]
    body = {"license_key": license["license_key"], "hwid": "device-1", "product_id": product["id"]}

    answers = [httpx.post(f"{server.base}/client/validate", json=body) for server in (first, second) * VALIDATION]

    # Check the processes took turns, and together let through exactly the limit
    assert [a.status_code for a in answers] == [200] * VALIDATION + [429] * VALIDATION
    assert [a.headers["ratelimit-remaining"] for a in answers[:VALIDATION]] == [
        str(VALIDATION - n) for n in range(1, VALIDATION + 1)]
    assert answers[-1].json()["error_code"] == "RATE_LIMIT_EXCEEDED" and answers[-1].headers["retry-after"]
