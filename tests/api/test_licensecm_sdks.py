"""Each published LicenseCM SDK, emulated on the wire (tests/licensecm_sdks.py), against the client API: in
compatibility mode every SDK that can talk goes through all of its calls, plain and, where it can encrypt,
encrypted; in KeyLedger's own mode what the SDKs cannot read fails exactly where their own code fails."""

from typing import Any

import pytest

from tests.api.test_client_security import security_events
from tests.conftest import auth, create_license, create_product
from tests.licensecm_sdks import ENCRYPTING, SDKS, EmulatedSdk, SdkError, ends_session

CAN_TALK = [name for name in SDKS if name != "kotlin"]  # Kotlin serializes no body at all
RUNS = [(name, "plain") for name in CAN_TALK] + [(name, "encrypted") for name in ENCRYPTING if name != "kotlin"]
UNKNOWN_KEY = "BAD0-0000-0000-0000"


def transport(client: Any, chunked: bool = False):
    def post(path: str, payload: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        # Node writes its body with req.write() + req.end(): chunked, in parts (the handler's way in).
        content = iter([payload[:9], payload[9:]]) if chunked else payload
        response = client.post(path, content=content, headers=headers)
        return response.status_code, response.json()

    return post


def emulated(client, clock, name: str, product: dict[str, Any], encrypted: bool) -> EmulatedSdk:
    public_pem = client.get("/api/client/public-key").json()["data"]["public_key"]  # no product_id: the RSA key
    sdk = SDKS[name]
    return EmulatedSdk(sdk, transport(client, sdk.chunked), product["id"], product["secret_key"], public_pem,
                       encrypted, lambda: int(clock().timestamp() * 1000))


@pytest.fixture
def legacy(client, vendor_token):
    return create_product(client, vendor_token, "Legacy", client_compatibility="licensecm-sdk")


@pytest.mark.parametrize(("name", "mode"), RUNS, ids=[f"{name}-{mode}" for name, mode in RUNS])
def test_every_sdk_that_can_talk_makes_all_its_calls_in_compatibility_mode(client, vendor_token, legacy, clock,
                                                                           runtime, name, mode):
    key = create_license(client, vendor_token, legacy["id"])["license_key"]
    sdk = emulated(client, clock, name, legacy, mode == "encrypted")

    activated = sdk.activate(key)
    # Check the session is one the SDK can hold: a token, and an expiry its own parser takes.
    assert activated["activated"] is True and sdk.session.token and sdk.session.expires_at_ok
    if sdk.sdk.automatic_heartbeat_without_token:  # Rust's timer fires at once: key, HWID, product only
        assert sdk.automatic_heartbeat(key)[0] == 200
    assert sdk.validate(key)["valid"] is True
    assert sdk.session.token, "the token survives a validation (Delphi drops it unless new_token comes back)"
    renewed = sdk.heartbeat(key)
    assert renewed["valid"] is True and sdk.session.token == renewed["new_token"]
    if name in ("node", "python", "csharp"):
        assert sdk.verify_challenge(key, "challenge-from-the-app")["verified"] is True
    assert sdk.deactivate(key)["deactivated"] is True

    # Check a refusal reaches the application as its message, and that a heartbeat on the ended session ends
    # the SDK's session (the words it looks for, in the case it looks for them).
    with pytest.raises(SdkError, match="^License not found$"):
        sdk.validate(UNKNOWN_KEY)
    with pytest.raises(SdkError) as over:
        sdk.heartbeat(key)
    assert ends_session(sdk.sdk, str(over.value))
    assert "tamper_detected" not in security_events(runtime)


@pytest.mark.parametrize("name", ["node", "python"])
def test_node_and_python_reject_every_answer_of_a_product_in_keyledgers_own_mode(client, vendor_token, clock,
                                                                                 name):
    product = create_product(client, vendor_token)
    key = create_license(client, vendor_token, product["id"])["license_key"]
    sdk = emulated(client, clock, name, product, encrypted=False)

    # Check what the SDKs' own check makes of our signature: it signs `data`, they verify `data.data`.
    expected = "TypeError" if name == "node" else "Invalid server signature"
    with pytest.raises(SdkError, match=expected):
        sdk.activate(key)


@pytest.mark.parametrize("name", [name for name in CAN_TALK if SDKS[name].verifies is None])
def test_sdks_that_check_no_signature_talk_plain_to_a_product_in_keyledgers_own_mode(client, vendor_token, clock,
                                                                                     name):
    product = create_product(client, vendor_token)
    key = create_license(client, vendor_token, product["id"])["license_key"]
    sdk = emulated(client, clock, name, product, encrypted=False)

    assert sdk.activate(key)["activated"] is True and sdk.session.token
    # Check Swift's parser alone refuses our microseconds (it gets nil, its session counts as not valid).
    assert sdk.session.expires_at_ok is (name != "swift")
    assert sdk.validate(key)["valid"] is True
    if not SDKS[name].drops_token_without_new_token:
        assert sdk.heartbeat(key)["valid"] is True
    assert sdk.deactivate(key)["deactivated"] is True


@pytest.mark.parametrize(("name", "opens"), [("java", True), ("php", True), ("rust", True), ("go", False)])
def test_sealed_sdk_requests_to_a_product_in_keyledgers_own_mode(client, vendor_token, clock, runtime, name, opens):
    product = create_product(client, vendor_token)
    key = create_license(client, vendor_token, product["id"])["license_key"]
    sdk = emulated(client, clock, name, product, encrypted=True)

    if opens:  # the secret's prefix is the one extra way tried; the answer comes back under the same key
        assert sdk.activate(key)["activated"] is True
        assert sdk.heartbeat(key)["valid"] is True
        return
    # Check Go's (16 bytes sent, 12 used) would be a third try: refused, in plain words, as tampering.
    with pytest.raises(SdkError, match="does not decrypt"):
        sdk.activate(key)
    assert security_events(runtime) == ["tamper_detected"]


def test_a_chunked_sdk_call_is_logged_with_what_matters_of_its_client_data(client, vendor_token, legacy, clock):
    license = create_license(client, vendor_token, legacy["id"])
    sdk = emulated(client, clock, "node", legacy, encrypted=False)

    sdk.activate(license["license_key"])

    logs = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(vendor_token)).json()["data"]["logs"]
    activation = next(log for log in logs if log["action"] == "activation")
    assert activation["success"] is True
    assert activation["details"]["client"] == {"platform": "linux", "os_version": "6.1.0-18-amd64",
                                               "architecture": "x64", "hostname": "build-host-7"}
