"""`keyledger serve` with several API processes: each serves, connections reach both, SIGTERM stops them all;
one child follows the call log beside them, comes back when killed, and goes when serve goes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from keys.signing import load_public_key, verify_answer

from tests.conftest import eventually
from tests.e2e.conftest import Server, backend_url, free_port, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e


def children_of(pid: int, marker: bytes) -> set[int]:
    """The live (not zombie) children of `pid` whose command line holds `marker`."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and marker in command and fields[0] != "Z":
            found.add(int(entry))
    return found


def api_processes(pid: int) -> set[int]:
    """The processes the server spawned to serve (multiprocessing's resource tracker is not one)."""
    return children_of(pid, b"spawn_main")


def followers(data_dir: Path, marker: bytes = b"follow") -> set[int]:
    """The live `keyledger follow` processes serving `data_dir` (or others whose command holds `marker`),
    whether their parent lives or not."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            with open(f"/proc/{entry}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if any(marker in part for part in command) and b"KEYLEDGER_DATA_DIR=%s" % bytes(data_dir) in environ \
                and state != "Z":
            found.add(int(entry))
    return found


def connection_owners(port: int, pids: set[int]) -> set[int]:
    """Which of `pids` hold an established TCP connection on local port `port` (from /proc/net/tcp)."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if local_port == port and state == "01":  # ESTABLISHED
                inodes.add(f"socket:[{inode}]")
    owners = set()
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    owners.add(pid)
            except OSError:
                continue
    return owners


def test_two_api_processes_share_the_connections_and_stop_together(backend_url: str | None, tmp_path: Path):
    server = Server(tmp_path / "var", backend_url, workers=2)
    server.start()
    try:
        assert server.process is not None
        workers = eventually(lambda: found if len(found := api_processes(server.process.pid)) >= 2 else set(),
                             server.log_tail)
        follower = followers(server.data_dir)
        assert len(follower) == 1, "two API processes share one follower of the call log"
        clients = [httpx.Client(base_url=server.base, timeout=30) for _ in range(32)]
        # Check every kept-alive connection is answered, whichever process holds it.
        for client in clients:
            assert client.get("/client/public-key").status_code == 200
        # Check both API processes hold some of them: one socket each, spread by the kernel.
        assert connection_owners(server.port, workers) == workers
        for client in clients:
            client.close()
    finally:
        server.stop()
    # Check SIGTERM to the server took its API processes down with it.
    assert server.process.returncode == 0, server.log_tail()
    assert not any(os.path.exists(f"/proc/{pid}") for pid in workers | follower)


def test_the_call_log_is_followed_by_a_child_that_returns_when_killed_and_ends_with_serve(
        backend_url: str | None, tmp_path: Path):
    server = Server(tmp_path / "var", backend_url)
    server.start()
    try:
        assert server.process is not None
        http = httpx.Client(base_url=server.base, timeout=30)
        http.post("/auth/register", json={"email": "ops@example.com", "password": "secret123"})
        token = http.post("/auth/login", json={"email": "ops@example.com", "password": "secret123"}).json()["data"]
        headers = {"Authorization": f"Bearer {token['token']}"}
        product = http.post("/products", json={"name": "App"}, headers=headers).json()["data"]
        key = http.post("/licenses", json={"product_id": product["id"], "max_uses": 2},
                        headers=headers).json()["data"]["license_key"]

        def activate_on(hwid: str) -> None:
            call = {"license_key": key, "product_id": product["id"], "hwid": hwid}
            assert http.post("/client/activate", json=call).status_code == 200

        def listed(hwid: str) -> bool:
            events = http.get("/security/events", params={"hwid": hwid}, headers=headers).json()["data"]["events"]
            return any(event["event_type"] == "license_activation" for event in events)

        first = eventually(lambda: followers(server.data_dir), "serve starts a follower")
        activate_on("before-kill")
        eventually(lambda: listed("before-kill"), "the follower lists an activation as a security event")
        # Check a follower killed outright is started again, and the calls made meanwhile still get listed.
        (pid,) = first
        os.kill(pid, signal.SIGKILL)
        activate_on("after-kill")
        eventually(lambda: followers(server.data_dir) - first, "serve starts the follower again")
        eventually(lambda: listed("after-kill"), "the new follower lists what came while none ran")
        # Check a serve killed outright leaves no follower running behind it.
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        eventually(lambda: not followers(server.data_dir), "the follower stops when serve is gone", seconds=15)
    finally:
        server.stop()


def test_a_serve_stopped_while_its_follower_starts_leaves_none_behind(tmp_path: Path):
    # SIGTERM as soon as the follower exists, while both are still starting: the follower must not run on alone.
    data_dir = tmp_path / "var"
    command = [sys.executable, "-m", "keyledger.cli", "serve", "--port", str(free_port()), "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env={**os.environ, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        eventually(lambda: followers(data_dir), "serve starts a follower", pause=0.005)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        eventually(lambda: not followers(data_dir), "no follower outlives a stopped serve", seconds=15)
    finally:
        for pid in followers(data_dir):
            os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_validations_are_signed_and_recorded_by_children_that_end_with_serve(backend_url: str | None,
                                                                             tmp_path: Path):
    server = Server(tmp_path / "var", backend_url)
    server.start()
    try:
        assert server.process is not None
        http = httpx.Client(base_url=server.base, timeout=30)
        token = http.post("/auth/register", json={"email": "ops@example.com", "password": "secret123"}
                          ).json()["data"]["token"]
        headers = {"Authorization": f"Bearer {token}"}
        product = http.post("/products", json={"name": "App", "signing_algorithm": "ed25519"},
                            headers=headers).json()["data"]
        license = http.post("/licenses", json={"product_id": product["id"]}, headers=headers).json()["data"]
        key = license["license_key"]
        call = {"license_key": key, "product_id": product["id"], "hwid": "pc-1"}
        assert http.post("/client/activate", json=call).status_code == 200
        public = load_public_key(http.get("/client/public-key", params={"product_id": product["id"]}
                                          ).json()["data"]["public_key"])
        answers = [http.post("/client/validate", json=call).json()["data"] for _ in range(5)]
        # Check the answers a child signed verify, and the calls a child recorded are in the license's log.
        assert all(answer["valid"] and verify_answer(public, answer) for answer in answers)
        logs = http.get(f"/licenses/{license['id']}/logs", params={"limit": 50}, headers=headers
                        ).json()["data"]["logs"]
        assert sum(log["action"] == "validation" for log in logs) == 5, logs
        children = followers(server.data_dir, b"adapters.children")
        expected = 1 if backend_url else 2  # the signer; on SQLite the call log's writer too
        assert len(children) == expected, f"{children}: {server.log_tail()}"
        # Check an API process killed outright leaves no child behind: each sees its pipe close.
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        eventually(lambda: not followers(server.data_dir, b"adapters.children"), "the children stop with serve", 15)
    finally:
        server.stop()


def test_a_request_offering_http2_is_answered_in_http1_with_its_body(server):
    # Java's HTTP client offers `Upgrade: h2c` on plain http; the body used to be lost (400 "data: 'data'").
    body = b'{"license_key": "AAAA-BBBB-CCCC-DDDD", "hwid": "pc", "product_id": "6f1c3a52-0d5e-4c55-9a3b-6b0d4a1e7c10"}'
    request = (b"POST /api/client/validate HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
               b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while not answer.endswith(b"}"):  # the head and the JSON body may come in separate packets
            answer += sock.recv(65536)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 404 Not Found", answer
    assert b'"error_code":"PRODUCT_NOT_FOUND"' in rest
