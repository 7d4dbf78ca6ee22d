"""Schemathesis against a running `keyledger serve`: every operation of the OpenAPI document, every check
(status codes, content types, headers and bodies conform to the document; valid input is taken and invalid
input refused; no 5xx; stateful sequences), with a fixed seed and a time budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

SECONDS = 20
EXAMPLES = 20
# ensure_resource_availability expects what a POST created to stay readable until a DELETE at or below its
# path's parent. Here a license also goes with its product (DELETE /products/{id} deletes its licenses), and
# another vendor's license leaves an account's sight when the account stops being an admin; stateful runs
# chain those (once in about ten runs) and the check then reports the right 404 as a fault. Read-your-writes
# is tested in tests/api (every create-then-read test, test_read_models_behind.py).
EXCLUDED_CHECKS = "ensure_resource_availability"
STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", "422"]
"""What valid input may be answered with. A write's Idempotency-Key sent again with another request is refused
(422 IDEMPOTENCY_KEY_REUSED, docs/decisions/0002-idempotency-keys.md), and the coverage phase sends one key with
several bodies: a rule across requests no schema can state."""
REFUSED_BY_RULES = [  # operations whose valid-looking input may still be a 400, each for a rule no schema states
    # A lifetime license refuses an expiry (docs/licensing-rules.md): a rule of the stored license's type.
    "PUT /api/licenses/{license_id}",
    # A URL must be https and resolve only to public addresses, and the test server accepts the host 127.0.0.1
    # alone (tests/e2e/conftest.py), so that nothing generated here is looked up or contacted.
    "POST /api/webhooks",
    "PUT /api/webhooks/{webhook_id}",
    # `content` is a file (a JSON array of records, or CSV with a header row): a string whose format no JSON
    # Schema of this body can state (docs/migrating-from-licensecm.md).
    "POST /api/admin/import",
    # `ip` must be an IPv4 or IPv6 address or network; a blacklist value must suit its type.
    "POST /api/security/block-ip",
    "POST /api/security/blacklist",
    # Times must lie in the years 1000-8999 (docs/decisions/0085-time-series-read-model.md).
    "GET /api/stats/products/{product_id}/timeseries",
    # `block_vm` and `block_debugger` must agree with `security_policy` given beside them (decision 0070).
    "POST /api/products",
    "PUT /api/products/{product_id}",
    # A window's start must not be after its end (`since`/`until`, `start_date`/`end_date`).
    "GET /api/audit/export",
    "GET /api/security/events",
]
DISABLED = [
    # A refresh retires the token it is sent, and the run has one token (--header): the first refresh would leave
    # every later case a 401. Refresh, rotation and retirement are tested in tests/api/test_auth.py.
    "POST /api/auth/refresh",
    # A live event stream ends only when its client goes, and schemathesis reads an answer to its end, so every
    # case would wait out --request-timeout. Its answers, refusals and document are tested in
    # tests/api/test_events_stream.py and tests/api/test_openapi.py.
    "GET /api/events/stream",
]
CONFIG = f"""
hooks = "tests.e2e.schemathesis_hooks"

[checks.positive_data_acceptance]
expected-statuses = {json.dumps(STATUSES)}

[generation]
# The API refuses NUL in any text of a body (api/requests.py: PostgreSQL cannot keep it). The document says so
# in words, but JSON Schema cannot say it of free-form `metadata`; generate no NUL, as the option exists for.
allow-x00 = false
""" + "".join(f"""
[[operations]]
include-name = "{operation}"
checks.positive_data_acceptance.expected-statuses = {json.dumps([*STATUSES, "400"])}
""" for operation in REFUSED_BY_RULES) + "".join(f"""
[[operations]]
include-name = "{operation}"
enabled = false
""" for operation in DISABLED)
SKIPPED = len(DISABLED)


def seed(server: Server) -> tuple[str, dict[str, str], dict[str, str]]:
    """An admin, whose token the run uses, and a vendor with a product and a license, so ids exist; the two
    accounts' ids; and what the hooks put in client requests (tests/e2e/schemathesis_hooks.py)."""
    with httpx.Client(base_url=server.base, timeout=30) as client:
        def register(email: str) -> str:
            answer = client.post("/auth/register", json={"email": email, "password": "secret123"})
            assert answer.status_code == 201, answer.text
            return answer.json()["data"]["token"]

        admin, vendor = register("admin@example.com"), register("vendor@example.com")
        product = client.post("/products", json={"name": "App"}, headers={"Authorization": f"Bearer {vendor}"})
        license = client.post("/licenses", json={"product_id": product.json()["data"]["id"], "max_uses": 1000,
                                                 "hwid_locked": False}, headers={"Authorization": f"Bearer {vendor}"})
        assert license.status_code == 201, license.text
        me = {name: client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["data"]["id"]
              for name, token in (("admin", admin), ("vendor", vendor))}
    return admin, me, {"product_id": product.json()["data"]["id"], "api_key": product.json()["data"]["secret_key"],
                   "license_key": license.json()["data"]["license_key"]}


def test_the_running_server_conforms_to_its_openapi_document(server: Server, tmp_path: Path) -> None:
    token, accounts, seeded = seed(server)
    operations = sum(len([m for m in item if m in {"get", "put", "post", "delete", "patch"}])
                     for item in httpx.get(f"{server.base}/schema/openapi.json").json()["paths"].values())
    (tmp_path / "schemathesis.toml").write_text(CONFIG)

    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(tmp_path / "schemathesis.toml"),
               "run", f"{server.base}/schema/openapi.json", "--header", f"Authorization: Bearer {token}",
               "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS, "--seed", "1",
               "--max-examples", str(EXAMPLES), "--max-time", str(SECONDS), "--request-timeout", "15",
               "--generation-database", "none", "--no-color"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KEYLEDGER_SCHEMATHESIS_SEEDED": json.dumps(seeded),
           "KEYLEDGER_SCHEMATHESIS_ACCOUNTS": json.dumps(accounts)}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SECONDS + 60)

    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report + server.log_tail()
    # Check the run reached every operation and found nothing.
    assert f"Tested: {operations - SKIPPED}" in run.stdout and " passed" in run.stdout, report
