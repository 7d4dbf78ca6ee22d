"""The LicenseCM SDKs' HTTP as it reaches a real `keyledger serve`, byte for byte: Node's chunked body with no
User-Agent, Java's `Accept: text/html, ...`, C#'s charset, Lua's `TE`, libcurl's `Expect: 100-continue`."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.licensecm_sdks import SDKS, EmulatedSdk

pytestmark = pytest.mark.e2e


def raw_post(server: Server, path: str, body: bytes, headers: dict[str, str], chunked: bool = False,
             expect_continue: bool = False) -> tuple[int, Any]:
    """POST exactly these headers (no User-Agent unless given) over one connection; the status and JSON answer."""
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", *(f"{k}: {v}" for k, v in headers.items())]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    if expect_continue:
        head.append("Expect: 100-continue")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        reader = sock.makefile("rb")
        if expect_continue:
            assert reader.readline().startswith(b"HTTP/1.1 100"), "the server asks for the body"
            reader.readline()
        if chunked:  # in two chunks, as Node's req.write() then req.end() send it
            for part in (body[:11], body[11:], b""):
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        else:
            sock.sendall(body)
        status = int(reader.readline().split()[1])
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, json.loads(reader.read(length))


@pytest.fixture
def vendor(server: Server) -> httpx.Client:
    http = httpx.Client(base_url=server.base, timeout=30)
    registered = http.post("/auth/register", json={"email": "wire@example.com", "password": "secret123",
                                                   "display_name": "Wire"})
    http.headers["Authorization"] = f"Bearer {registered.json()['data']['token']}"
    return http


def product_and_key(vendor: httpx.Client, compatibility: str = "licensecm-sdk") -> tuple[dict[str, Any], str]:
    product = vendor.post("/products", json={"name": "Wire", "client_compatibility": compatibility}).json()["data"]
    license = vendor.post("/licenses", json={"product_id": product["id"], "max_uses": 1}).json()["data"]
    return product, license["license_key"]


@pytest.mark.parametrize(("name", "mode"), [("node", "encrypted"), ("node", "plain"), ("java", "plain"),
                                            ("csharp", "plain"), ("lua", "plain"), ("python", "encrypted")])
def test_an_sdk_goes_through_its_calls_over_real_http(server, vendor, name, mode):
    product, key = product_and_key(vendor)
    sdk = SDKS[name]
    public_pem = httpx.get(f"{server.base}/client/public-key").json()["data"]["public_key"]
    client = EmulatedSdk(sdk, lambda path, body, headers: raw_post(server, path, body, headers, sdk.chunked),
                         product["id"], product["secret_key"], public_pem, mode == "encrypted",
                         lambda: int(time.time() * 1000))

    assert client.activate(key)["activated"] is True
    assert client.validate(key)["valid"] is True
    assert client.heartbeat(key)["valid"] is True
    assert client.deactivate(key)["deactivated"] is True

    logs = vendor.get("/licenses", params={"product_id": product["id"]}).json()["data"]["licenses"]
    calls = vendor.get(f"/licenses/{logs[0]['id']}/logs").json()["data"]["logs"]
    agents = {log["user_agent"] for log in calls if log["action"] in ("activation", "validation")}
    assert agents == {sdk.headers.get("User-Agent")}  # Node sends none, and none is recorded


def test_a_body_sent_after_100_continue_is_served(server, vendor):
    product, key = product_and_key(vendor, "keyledger")
    body = json.dumps({"license_key": key, "hwid": "pc", "product_id": product["id"],
                       "client_data": {"cpp_version": 201703, "vm_indicators": []}}).encode()
    status, answer = raw_post(server, "/api/client/activate", body, {"Content-Type": "application/json",
                                                                      "Accept": "*/*"}, expect_continue=True)
    assert status == 200 and answer["data"]["activated"] is True
