"""A private Redis stopped and started under encrypted client calls; a Redis that does not answer at start."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from keys.envelope import open_envelope, seal_envelope
from tests.e2e.conftest import backend_url  # noqa: F401 - the fixture
from tests.faults.conftest import process_env, start_server
from tests.faults.http_traffic import open_vendor


def sealed_validation(client: httpx.Client, traffic, secret: str) -> httpx.Response:
    body = {"license_key": traffic.keys[0], "hwid": "hw-a", "product_id": traffic.product_id}
    envelope = seal_envelope(secret, traffic.product_id, body, int(time.time() * 1000))
    return client.post("/client/validate", json=envelope)


def test_calls_needing_redis_answer_503_while_it_is_down_and_recover(backend_url, private_redis, tmp_path):  # noqa: F811
    env = process_env(backend_url, redis_url=private_redis.url)
    server = start_server(tmp_path / "var", env)
    try:
        traffic = open_vendor(server.base)
        with httpx.Client(base_url=server.base, timeout=30) as client:
            secret = client.get(f"/products/{traffic.product_id}", headers=traffic.headers).json()["data"]["secret_key"]
            plain = {"license_key": traffic.keys[0], "hwid": "hw-a", "product_id": traffic.product_id}
            assert client.post("/client/activate", json=plain).status_code == 200
            assert sealed_validation(client, traffic, secret).status_code == 200

            private_redis.stop()
            down = sealed_validation(client, traffic, secret)
            challenge = client.post("/client/challenge", json=plain)
            still_plain = client.post("/client/validate", json=plain)

            private_redis.start()
            deadline = time.monotonic() + 10
            while (back := sealed_validation(client, traffic, secret)).status_code != 200:
                assert time.monotonic() < deadline, back.text
                time.sleep(0.2)
    finally:
        server.stop()

    # Check what needs Redis said so, in the envelope, with Retry-After...
    for answer in (down, challenge):
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert answer.json()["error_code"] == "SERVICE_UNAVAILABLE"
    # ...while what does not need it went on, and everything came back on its own.
    assert still_plain.status_code == 200
    assert open_envelope(secret, back.json(), int(time.time() * 1000))["success"] is True
    assert "Traceback" not in server.log_path.read_text()


def test_a_redis_that_does_not_answer_at_start_is_named_in_one_line(tmp_path):
    env = process_env(None, redis_url="redis://127.0.0.1:1/0")
    server = start_server(tmp_path / "var", env)
    server.stop()
    lines = [line for line in server.log_tail().splitlines() if "KEYLEDGER_REDIS_URL" in line]
    assert len(lines) == 1 and "does not answer" in lines[0]


def test_a_database_that_does_not_answer_stops_the_start_with_one_line(tmp_path):
    env = process_env("postgresql://postgres@127.0.0.1:1/test", startup_timeout="1", data_dir=str(tmp_path / "var"))
    started = subprocess.run([sys.executable, "-m", "keyledger.cli", "serve", "--port", "0"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode == 2
    assert started.stderr.strip().splitlines()[-1].startswith("keyledger: KEYLEDGER_DATABASE_URL: PostgreSQL did not")
    assert "Traceback" not in started.stderr
