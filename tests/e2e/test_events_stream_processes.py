"""The live event stream across API processes: a write answered by one process reaches a stream held by the
other within a second (PostgreSQL NOTIFY wakes the stream; docs/events-stream.md)."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest

from tests.e2e.test_serving import api_processes
from tests.faults.conftest import postgres_url, process_env, start_server  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def owner(server_port: int, client_port: int, pids: set[int]) -> int:
    """Which of `pids` holds the server end of the connection from local `client_port` (/proc/net/tcp), once
    one has accepted it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as table:
            inodes = {f"socket:[{fields[9]}]" for fields in (line.split() for line in table.readlines()[1:])
                      if int(fields[1].rsplit(":", 1)[1], 16) == server_port
                      and int(fields[2].rsplit(":", 1)[1], 16) == client_port}
        for pid in pids:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if str(fd.readlink()) in inodes:
                        return pid
                except OSError:
                    continue
        time.sleep(0.02)
    raise LookupError(client_port)


def call(conn: http.client.HTTPConnection, method: str, path: str, token: str | None = None,
         body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    answer = conn.getresponse()
    payload = json.loads(answer.read())
    assert answer.status < 300, payload
    return payload["data"]


def test_a_write_on_one_process_reaches_a_stream_on_another_within_a_second(postgres_url: str, tmp_path: Path):
    server = start_server(tmp_path / "var", process_env(postgres_url), workers=2)
    try:
        assert server.process is not None
        deadline = time.monotonic() + 30
        while len(workers := api_processes(server.process.pid)) < 2:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)
        setup = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        account = {"email": "v@example.com", "password": "secret123"}
        token = call(setup, "POST", "/api/auth/register", body=account)["token"]
        product = call(setup, "POST", "/api/products", token, {"name": "App"})
        # Open the stream, and find a connection the other process holds.
        stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        stream.request("GET", "/api/events/stream?type=License.Issued", headers={"Authorization": f"Bearer {token}"})
        listening = owner(server.port, stream.sock.getsockname()[1], workers)
        answer = stream.getresponse()
        assert answer.status == 200 and answer.getheader("content-type").startswith("text/event-stream")
        for _ in range(50):
            writer = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            writer.connect()
            if owner(server.port, writer.sock.getsockname()[1], workers) != listening:
                break
            writer.close()
        else:
            pytest.fail("every connection landed on the stream's process")
        # Check the license the other process issued is on the stream within a second of being asked for.
        sent = time.monotonic()
        issued = call(writer, "POST", "/api/licenses", token, {"product_id": product["id"], "max_uses": 1})
        lines = []
        while not lines or lines[-1] != b"\n":
            lines.append(answer.readline())
        arrived = time.monotonic() - sent
        message = dict(line.decode().rstrip("\n").split(": ", 1) for line in lines[:-1])
        assert message["event"] == "License.Issued" and json.loads(message["data"])["aggregate_id"] == issued["id"]
        assert arrived < 1.0, arrived
        writer.close()
        # Check SIGTERM ends the open stream and the server stops well within 5 s.
        stopping = time.monotonic()
        server.stop()
        assert time.monotonic() - stopping < 5.0
        while answer.readline():
            pass
    finally:
        server.stop()
    assert server.process.returncode == 0 and not server.killed, server.log_tail()
