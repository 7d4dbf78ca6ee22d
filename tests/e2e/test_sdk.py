"""The Python SDK (`sdk/python`, package `licensecm`) against a real `keyledger serve` process.

The SDK is imported from its source folder, not installed, and imports nothing from the
server: everything it checks (signatures, nonces, envelopes) it checks on its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

SDK_PATH = Path(__file__).resolve().parents[2] / "sdk" / "python"
if str(SDK_PATH) not in sys.path:
    sys.path.insert(0, str(SDK_PATH))

import licensecm  # noqa: E402
from licensecm import LicenseCM, LicenseCMError, get_hwid  # noqa: E402
from licensecm.transport import urllib_transport  # noqa: E402

from tests.conftest import eventually  # noqa: E402
from tests.e2e.conftest import Server  # noqa: E402

pytestmark = pytest.mark.e2e


# --- sdk_conftest: one server for the module, a vendor, two products ---------------------------

class Vendor:
    """The vendor side over HTTP: products, licenses, suspension."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)
        registered = self.http.post("/auth/register", json={"email": "sdk-vendor@example.com",
                                                           "password": "secret123", "display_name": "SDK"})
        assert registered.status_code == 201, registered.text
        self.http.headers["Authorization"] = f"Bearer {registered.json()['data']['token']}"

    def product(self, name: str, **fields: Any) -> dict[str, Any]:
        response = self.http.post("/products", json={"name": name, **fields})
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def license(self, product: dict[str, Any], **fields: Any) -> dict[str, Any]:
        body = {"product_id": product["id"], "type": "subscription", "max_uses": 1, "hwid_locked": True, **fields}
        response = self.http.post("/licenses", json=body)
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def suspend(self, license: dict[str, Any]) -> None:
        response = self.http.put(f"/licenses/{license['id']}", json={"status": "suspended"})
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("sdk-server") / "var")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def vendor(sdk_server: Server) -> Iterator[Vendor]:
    vendor = Vendor(sdk_server.base)
    yield vendor
    vendor.http.close()


@pytest.fixture(scope="module")
def products(vendor: Vendor) -> dict[str, dict[str, Any]]:
    return {"rsa": vendor.product("SDK RSA App"), "ed25519": vendor.product("SDK Ed App", signing_algorithm="ed25519")}


class Violations:
    """An `on_security_violation` that remembers what it was told."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, details: dict[str, Any]) -> None:
        self.seen.append(details)


@pytest.fixture
def make_client(sdk_server: Server) -> Iterator[Callable[..., LicenseCM]]:
    """LicenseCM for a product, heartbeat off unless asked; every client is closed afterwards."""
    made: list[LicenseCM] = []

    def make(product: dict[str, Any], **options: Any) -> LicenseCM:
        options.setdefault("auto_heartbeat", False)
        options.setdefault("hwid", "sdk-device-1")
        client = LicenseCM(options.pop("base_url", sdk_server.root), product["id"], product["secret_key"], **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def tampering(change: Callable[[dict[str, Any]], Any]) -> Callable[..., tuple[int, bytes]]:
    """A transport that lets `change` alter every client answer (not the public key) on its way in."""

    def transport(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
                  ) -> tuple[int, bytes]:
        status, raw = urllib_transport(method, url, body, headers, timeout)
        if "/client/public-key" in url:
            return status, raw
        answer = json.loads(raw)
        answer = change(answer) or answer
        return status, json.dumps(answer).encode()

    return transport


# --- the protocol, offline: the documented test vectors ----------------------------------------

def test_protocol_helpers_reproduce_the_documented_vectors():
    public_pem = ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n"
                  "-----END PUBLIC KEY-----\n")
    signed = {"valid": True,
              "license": {"type": "subscription", "expires_at": "2026-12-31T23:59:59.000000Z", "metadata": {}},
              "watermark": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "timestamp": "2024-01-01T00:00:00.000000Z",
              "key_id": "a050837d85070582", "nonce": "n-42",
              "signature": "TASFyd8W/PB/c/k3q3Lxh4oKivvQ+n7qjV9dK6i7hwVu6aA48dbFl/n7knAequRv15U3B/+5SY/W2Q41i/5uDQ=="}
    key = licensecm.load_public_key(public_pem)
    assert licensecm.key_id(public_pem) == "a050837d85070582"
    assert len(licensecm.canonical_json({k: v for k, v in signed.items() if k != "signature"})) == 237
    assert licensecm.verify_answer_signature(key, signed)
    assert not licensecm.verify_answer_signature(key, {**signed, "valid": False})
    assert licensecm.canonical_json({"b": 1.0, "a": [1e-7, 1e21, None, True]}) == b'{"a":[1e-7,1e+21,null,true],"b":1}'

    secret = "sk_live_000102030405060708090a0b0c0d0e0f1011121314151617"
    body = {"hwid": "hwid-test-001", "license_key": "ABCD-EFGH-IJKL-MNOP", "nonce": "n-42",
            "product_id": "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"}
    envelope = licensecm.seal_envelope(secret, body["product_id"], body, 1704067200000, bytes(range(16)))
    assert envelope["tag"] == "d70f5b685f2cd4222dc9e0509af653ff"
    assert envelope["signature"] == "e0f6088f2b4eda4dbf3625eb37ce85b23f90e16656a5c42ddd75f9970e24d8c3"
    assert licensecm.open_envelope(secret, envelope, 1704067200000) == body
    with pytest.raises(licensecm.EnvelopeError):
        licensecm.open_envelope(secret, envelope, 1704067200000 + 301_000)
    assert licensecm.challenge_response(secret, "0" * 64, "ABCD-EFGH-IJKL-MNOP", "hwid-test-001") == \
        "2a9804f30dcc7b93fa60d752abd5331fc41e0a8158bc57e7c50e108376c787df"


def test_hwid_is_stable_across_calls_and_processes():
    hwid = get_hwid()
    other_process = subprocess.run(
        [sys.executable, "-c", "import licensecm; print(licensecm.get_hwid())"],
        env={**os.environ, "PYTHONPATH": str(SDK_PATH)}, capture_output=True, text=True, timeout=30, check=True)
    assert len(hwid) == 64 and int(hwid, 16) >= 0
    assert get_hwid() == hwid == other_process.stdout.strip()


# --- the life of a license ---------------------------------------------------------------------

@pytest.mark.parametrize("use_encryption", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_activate_validate_heartbeat_deactivate(vendor, products, make_client, algorithm, use_encryption):
    product = products[algorithm]
    license = vendor.license(product)
    violations = Violations()
    client = make_client(product, use_encryption=use_encryption, on_security_violation=violations)

    key = client.initialize()
    assert key["algorithm"] == ("rsa-4096" if algorithm == "rsa" else "ed25519")
    assert key["key_id"] == client.public_key_id and len(key["key_id"]) == 16

    activated = client.activate(license["license_key"])
    assert activated["activated"] is True and activated["key_id"] == key["key_id"]
    first_token = client.session_token
    assert first_token == activated["session"]["token"] and client.license_key == license["license_key"]

    validated = client.validate()
    assert validated["valid"] is True and len(validated["watermark"]) == 32

    beat = client.heartbeat()
    assert beat["valid"] is True and beat["new_token"] == client.session_token != first_token
    assert client.heartbeat()["new_token"] == client.session_token  # the rotated token is the one used next

    assert client.deactivate()["deactivated"] is True
    assert client.session_token is None
    with pytest.raises(LicenseCMError) as no_session:
        client.heartbeat()
    assert no_session.value.code == "NOT_ACTIVATED"
    # Check the seat is free again: another device takes it.
    assert make_client(product, hwid="sdk-device-2").activate(license["license_key"])["activated"] is True
    assert violations.seen == []


@pytest.mark.parametrize("base_url", ["{root}", "{root}/", "{root}/api", "{root}/api/"])
def test_base_url_with_or_without_api(sdk_server, vendor, products, make_client, base_url):
    license = vendor.license(products["ed25519"])
    client = make_client(products["ed25519"], base_url=base_url.format(root=sdk_server.root))
    assert client.api_url == sdk_server.base
    assert client.activate(license["license_key"])["activated"] is True


@pytest.mark.parametrize("use_encryption", [False, True], ids=["plain", "encrypted"])
def test_second_device_on_a_single_seat_license_is_a_hwid_mismatch(vendor, products, make_client, use_encryption):
    license = vendor.license(products["ed25519"])
    make_client(products["ed25519"], hwid="first-device", use_encryption=use_encryption).activate(
        license["license_key"])
    second = make_client(products["ed25519"], hwid="second-device", use_encryption=use_encryption)
    with pytest.raises(LicenseCMError) as refused:
        second.activate(license["license_key"])
    assert (refused.value.code, refused.value.status) == ("HWID_MISMATCH", 403)
    assert refused.value.details["error_code"] == "HWID_MISMATCH"
    assert second.session_token is None and not second.heartbeat_running


def test_refusals_carry_the_servers_code_and_status(vendor, products, make_client, sdk_server):
    with pytest.raises(LicenseCMError) as unknown_license:
        make_client(products["rsa"]).validate("AAAA-BBBB-CCCC-DDDD")
    assert (unknown_license.value.code, unknown_license.value.status) == ("LICENSE_NOT_FOUND", 404)

    ghost = {"id": "00000000-0000-4000-8000-000000000000", "secret_key": "sk_live_x"}
    with pytest.raises(LicenseCMError) as unknown_product:
        make_client(ghost).initialize()
    assert (unknown_product.value.code, unknown_product.value.status) == ("PRODUCT_NOT_FOUND", 404)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    with pytest.raises(LicenseCMError) as offline:
        make_client(products["rsa"], base_url=f"http://127.0.0.1:{dead_port}", timeout=2).initialize()
    assert (offline.value.code, offline.value.status) == ("NETWORK_ERROR", None)


def test_wrong_secret_is_refused_in_plain_json_and_reported(vendor, products, make_client):
    license = vendor.license(products["ed25519"])
    violations = Violations()
    client = make_client({**products["ed25519"], "secret_key": "sk_live_wrong"}, use_encryption=True,
                         on_security_violation=violations)
    with pytest.raises(LicenseCMError) as refused:
        client.activate(license["license_key"])
    assert (refused.value.code, refused.value.status) == ("SECURITY_VIOLATION", 403)
    assert [(v["source"], v["action"]) for v in violations.seen] == [("server", "activate")]


def test_challenge_response_validates(vendor, products, make_client):
    license = vendor.license(products["ed25519"])
    client = make_client(products["ed25519"], use_encryption=True)
    client.activate(license["license_key"])
    assert client.challenge()["valid"] is True


# --- pinning and tampering ---------------------------------------------------------------------

def test_pinning_accepts_the_right_key_and_refuses_any_other(vendor, products, make_client, sdk_server):
    served = {name: httpx.get(f"{sdk_server.base}/client/public-key", params={"product_id": p["id"]}).json()["data"]
              for name, p in products.items()}
    license = vendor.license(products["ed25519"])
    pinned = make_client(products["ed25519"], pinned_public_key=served["ed25519"]["public_key"])
    assert pinned.activate(license["license_key"])["key_id"] == served["ed25519"]["key_id"]
    assert make_client(products["rsa"], pinned_key_id=served["rsa"]["key_id"]).initialize()["key_id"] == \
        served["rsa"]["key_id"]

    for pin in ({"pinned_key_id": "0000000000000000"}, {"pinned_public_key": served["rsa"]["public_key"]}):
        violations = Violations()
        client = make_client(products["ed25519"], on_security_violation=violations, **pin)
        with pytest.raises(LicenseCMError) as refused:
            client.initialize()
        assert refused.value.code == "SECURITY_VIOLATION"
        with pytest.raises(LicenseCMError):
            client.activate(license["license_key"])  # never talks to an unpinned server
        assert [v["reason"] for v in violations.seen] == ["the server's public key is not the pinned key"] * 2


def _flip(text: str) -> str:
    return ("0" if text[0] != "0" else "1") + text[1:]


TAMPERINGS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "license-type": lambda answer: answer["data"]["license"].update(type="lifetime"),
    "watermark": lambda answer: answer["data"].update(watermark="0" * 32),
    "no-signature": lambda answer: answer["data"].__delitem__("signature"),
    "other-key-id": lambda answer: answer["data"].update(key_id="0000000000000000"),
    "unsigned-data": lambda answer: {"success": True, "data": {"valid": True, "activated": True,
                                                               "session": {"token": "x"}}},
}


@pytest.mark.parametrize("tamper", list(TAMPERINGS))
def test_tampered_answer_is_rejected_and_reported(vendor, products, make_client, tamper):
    license = vendor.license(products["rsa"])
    violations = Violations()
    client = make_client(products["rsa"], on_security_violation=violations, transport=tampering(TAMPERINGS[tamper]))
    with pytest.raises(LicenseCMError) as refused:
        client.activate(license["license_key"])
    assert refused.value.code == "SECURITY_VIOLATION"
    assert client.session_token is None
    assert len(violations.seen) == 1 and violations.seen[0]["source"] == "client"


def test_replayed_answer_fails_the_nonce_check(vendor, products, make_client):
    license = vendor.license(products["ed25519"])
    recorded: list[dict[str, Any]] = []

    def replay(answer: dict[str, Any]) -> dict[str, Any]:
        recorded.append(answer)
        return recorded[0]  # always the first genuine, signed answer

    violations = Violations()
    client = make_client(products["ed25519"], on_security_violation=violations, transport=tampering(replay))
    client.activate(license["license_key"])
    with pytest.raises(LicenseCMError) as refused:
        client.activate(license["license_key"])
    assert refused.value.code == "SECURITY_VIOLATION" and "nonce" in violations.seen[0]["reason"]


def test_answer_outside_the_clock_window_is_rejected(vendor, products, make_client, monkeypatch):
    class TenMinutesAhead(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(minutes=10)

    license = vendor.license(products["ed25519"])
    violations = Violations()
    client = make_client(products["ed25519"], on_security_violation=violations)
    monkeypatch.setattr(sys.modules["licensecm.client"], "datetime", TenMinutesAhead)
    with pytest.raises(LicenseCMError) as refused:
        client.activate(license["license_key"])
    assert refused.value.code == "SECURITY_VIOLATION" and "timestamp" in violations.seen[0]["reason"]


@pytest.mark.parametrize("tamper", ["ciphertext", "downgrade"])
def test_tampered_encrypted_answer_is_rejected(vendor, products, make_client, tamper):
    product = products["ed25519"]
    license = vendor.license(product)

    def change(answer: dict[str, Any]) -> dict[str, Any]:
        if tamper == "ciphertext":
            return {**answer, "data": _flip(answer["data"])}
        return licensecm.open_envelope(product["secret_key"], answer)  # a proxy that strips the envelope

    violations = Violations()
    client = make_client(product, use_encryption=True, on_security_violation=violations, transport=tampering(change))
    with pytest.raises(LicenseCMError) as refused:
        client.activate(license["license_key"])
    assert refused.value.code == "SECURITY_VIOLATION" and len(violations.seen) == 1


# --- the heartbeat thread ----------------------------------------------------------------------

def test_auto_heartbeat_keeps_rotating_the_token(vendor, products, make_client):
    license = vendor.license(products["ed25519"])
    client = make_client(products["ed25519"], auto_heartbeat=True, heartbeat_interval=0.2)
    client.activate(license["license_key"])
    assert client.heartbeat_running

    tokens = {client.session_token}
    eventually(lambda: tokens.add(client.session_token) or len(tokens) >= 4, tokens, 5, 0.02)  # activation's
    # token and at least three rotations
    assert client.validate()["valid"] is True

    client.close()
    assert not client.heartbeat_running
    token = client.session_token
    time.sleep(0.5)
    assert client.session_token == token  # stopped: nothing rotates any more
    assert client.heartbeat()["new_token"] != token  # and the session is still alive on the server


@pytest.mark.parametrize("use_encryption", [False, True], ids=["plain", "encrypted"])
def test_suspension_ends_the_session_through_the_heartbeat(vendor, products, make_client, use_encryption):
    license = vendor.license(products["rsa"])
    expired = threading.Event()
    calls: list[float] = []

    def on_session_expired() -> None:
        calls.append(time.monotonic())
        expired.set()

    client = make_client(products["rsa"], use_encryption=use_encryption, auto_heartbeat=True,
                         heartbeat_interval=0.2, on_session_expired=on_session_expired)
    client.activate(license["license_key"])
    assert client.heartbeat_running

    suspended_at = time.monotonic()
    vendor.suspend(license)
    assert expired.wait(3), "on_session_expired was not called within 3 s"
    assert calls[0] - suspended_at < 2
    eventually(lambda: not client.heartbeat_running, "the heartbeat stops", 2, 0.02)
    time.sleep(0.5)
    assert len(calls) == 1 and client.session_token is None
    with pytest.raises(LicenseCMError) as refused:
        client.validate()
    assert (refused.value.code, refused.value.status) == ("LICENSE_SUSPENDED", 403)


def test_tampered_heartbeat_answer_ends_the_session_and_is_reported(vendor, products, make_client):
    license = vendor.license(products["ed25519"])
    beats: list[int] = []

    def forge_after_two_beats(answer: dict[str, Any]) -> None:
        if isinstance(answer.get("data"), dict) and "new_token" in answer["data"]:
            beats.append(1)
            if len(beats) > 2:
                answer["data"]["new_token"] = "attacker-chosen-token"

    violations = Violations()
    expired = threading.Event()
    client = make_client(products["ed25519"], auto_heartbeat=True, heartbeat_interval=0.2,
                         on_security_violation=violations, on_session_expired=expired.set,
                         transport=tampering(forge_after_two_beats))
    client.activate(license["license_key"])
    assert expired.wait(3), "on_session_expired was not called within 3 s"
    assert len(beats) == 3 and [v["action"] for v in violations.seen] == ["heartbeat"]
    eventually(lambda: not client.heartbeat_running, "the heartbeat stops", 2, 0.02)
    assert client.session_token is None


def test_answer_for_another_vendors_license_is_rejected(sdk_server, products, make_client):
    attacker = Vendor.__new__(Vendor)
    attacker.http = httpx.Client(base_url=sdk_server.base, timeout=30)
    token = attacker.http.post("/auth/register", json={"email": "attacker@example.com", "password": "secret123",
                                                       "display_name": "A"}).json()["data"]["token"]
    attacker.http.headers["Authorization"] = f"Bearer {token}"
    own_product = attacker.product("Attacker's app", signing_algorithm="ed25519")
    own_license = attacker.license(own_product)

    def swap_license(method: str, url: str, body: bytes | None, headers: dict[str, str], timeout: float
                     ) -> tuple[int, bytes]:
        if body is not None:  # a local proxy: same nonce, the attacker's own key and product
            request = {**json.loads(body), "license_key": own_license["license_key"], "product_id": own_product["id"]}
            body = json.dumps(request).encode()
        return urllib_transport(method, url, body, headers, timeout)

    victim = make_client(products["ed25519"], transport=swap_license)
    try:
        with pytest.raises(LicenseCMError):
            victim.activate("XXXX-XXXX-XXXX-XXXX")  # a key that does not exist for the victim's product
    finally:
        attacker.http.close()
