"""`client_data` is the client's environment as its SDK describes it: kept opaque and bounded, never a reason
to refuse a call except for its size; the indicators are read from whichever spelling arrives."""

import pytest

from keys.envelope import open_envelope, seal_envelope
from tests.api.test_client_security import body_for, now_ms, security_events
from tests.conftest import auth


def call_logs(client, token, license):
    logs = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(token)).json()["data"]["logs"]
    return [log for log in logs if log["action"] in ("activation", "validation", "heartbeat", "deactivation")]


@pytest.mark.parametrize("client_data", [
    {"hwid": "h", "timestamp": 1767225600000, "uptime": 1684.06, "total_memory": 34359738368,
     "env_indicators": {"node_env": "production", "debug_mode": False}, "runtime": {"pid": 4242, "ppid": 1}},
    {"cpu_count": None, "vm_indicators": None, "debug_indicators": None},
    {"vm_indicators": {}, "debug_indicators": {}, "lua_version": "Lua 5.3"},
    {"cpp_version": 201703, "env_indicators": {"debug_mode": False}, "vm_indicators": [], "debug_indicators": []},
    {"huge": 123456789012345678901234567890, "nested": [[{"deep": [1.5, True, None]}]]},
    ["vm_indicators", "not", "an", "object"],
    "VirtualBox",
])
def test_any_json_is_accepted_as_client_data_and_raises_no_indicator(client, license, runtime, client_data):
    for action in ("activate", "validate", "deactivate"):
        response = client.post(f"/api/client/{action}", json=body_for(license, client_data=client_data))
        assert response.status_code == 200, response.text
    assert security_events(runtime) == []


@pytest.mark.parametrize("spelling", ["snake_case", "camelCase"])
def test_indicators_are_read_from_either_spelling(client, vendor_token, license, runtime, spelling):
    vm, debug = ("vm_indicators", "debug_indicators") if spelling == "snake_case" else ("vmIndicators",
                                                                                         "debugIndicators")
    client.post("/api/client/activate", json=body_for(license, client_data={vm: ["hypervisor"]}))
    client.post("/api/client/validate", json=body_for(license, client_data={debug: ["ptrace", 7]}))

    # Check both were recorded, and the call records keep what matters of the environment.
    assert security_events(runtime) == ["vm_detected", "debug_detected"]
    validation, activation = call_logs(client, vendor_token, license)
    assert activation["details"]["client"] == {"vm_indicators": ["hypervisor"]}
    assert validation["details"]["client"] == {"debug_indicators": ["ptrace"]}


def test_a_call_record_keeps_the_platform_os_and_host_of_the_client(client, vendor_token, license):
    client_data = {"platform": "linux", "osVersion": "14.2", "architecture": "x64", "hostname": "pc-1",
                   "total_memory": 34359738368, "runtime": {"pid": 1}}
    client.post("/api/client/activate", json=body_for(license, client_data=client_data))
    client.post("/api/client/validate", json=body_for(license))

    validation, activation = call_logs(client, vendor_token, license)
    assert activation["details"]["client"] == {"platform": "linux", "os_version": "14.2", "architecture": "x64",
                                               "hostname": "pc-1"}
    assert "client" not in validation["details"]


def test_the_session_token_the_sdks_send_on_every_call_is_accepted(client, license):
    token = client.post("/api/client/activate", json=body_for(license)).json()["data"]["session"]["token"]
    for action in ("validate", "activate", "heartbeat", "deactivate"):
        response = client.post(f"/api/client/{action}", json=body_for(license, session_token=token, client_data={}))
        assert response.status_code == 200, (action, response.text)
        token = response.json()["data"].get("new_token", token)


def test_client_data_over_its_cap_is_a_413_that_records_nothing(client, license, runtime):
    before = (runtime.ledger.position(), runtime.ledger.calls.store.head())
    too_big = {"blob": "x" * (16 * 1024)}
    fits = {"blob": "x" * (16 * 1024 - 20)}

    for action in ("validate", "activate", "heartbeat"):
        response = client.post(f"/api/client/{action}", json=body_for(license, client_data=too_big))
        assert response.status_code == 413
        assert response.json() == {"success": False, "message": "client_data may take at most 16 KiB",
                                   "error_code": "PAYLOAD_TOO_LARGE"}
    assert (runtime.ledger.position(), runtime.ledger.calls.store.head()) == before
    assert client.post("/api/client/activate", json=body_for(license, client_data=fits)).status_code == 200


def test_client_data_over_its_cap_in_an_envelope_is_answered_in_the_envelope(client, product, license, clock):
    envelope = seal_envelope(product["secret_key"], product["id"],
                             body_for(license, client_data={"blob": "x" * 20_000}), now_ms(clock))
    response = client.post("/api/client/activate", json=envelope)
    answer = open_envelope(product["secret_key"], response.json(), now_ms(clock))
    assert response.status_code == 413 and answer["error_code"] == "PAYLOAD_TOO_LARGE"
