"""Brute-force defence (api/abuse.py): failed logins for an account or from an address, and unknown license keys
from an address, block the address for a while (an expiring blacklist entry with a blocking `brute_force`
alert) and tell the admins; a blocked login answers like any refused login, and logins work again once the
block is lifted."""

import json
from datetime import timedelta

import msgspec
import pytest

from domain.blacklist import BlacklistEntry, BlacklistType, blacklist_entry_id
from tests.api.test_direct_validation import post_raw
from tests.api.test_rate_limits import alerts
from tests.conftest import auth

LOGINS, UNKNOWN_KEYS, BLOCK_SECONDS = 3, 4, 3600
PASSWORD = "secret123"


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, brute_force_logins=LOGINS, brute_force_unknown_keys=UNKNOWN_KEYS,
                                   brute_force_block_seconds=BLOCK_SECONDS)


def log_in(client, password, ip="198.51.100.7", email="vendor@example.com"):
    status, _, body = post_raw(client, "/api/auth/login", [json.dumps({"email": email, "password": password}).encode()],
                               ip=ip)
    return status, body


def notification_types(client, token):
    return [n["type"] for n in client.get("/api/notifications", headers=auth(token)).json()["data"]]


def test_failed_logins_from_an_address_block_it_until_the_block_lapses(client, runtime, clock, admin_token,
                                                                       vendor_token):
    refused = [log_in(client, "wrong-password") for _ in range(LOGINS)]

    # Check the right password from the blocked address answers exactly like a wrong one
    assert log_in(client, PASSWORD) == refused[0] == (401, {"success": False, "message": "Invalid email or password",
                                                            "error_code": "INVALID_CREDENTIALS"})
    # Check another address still logs in, and the block is recorded, expiring, with its blocking alert
    assert log_in(client, PASSWORD, ip="198.51.100.8")[0] == 200
    entry = runtime.ledger.repository.get(blacklist_entry_id(BlacklistType.IP, "198.51.100.7"))
    assert isinstance(entry, BlacklistEntry) and entry.expires_at == clock.now + timedelta(seconds=BLOCK_SECONDS)
    [alert] = alerts(runtime, "brute_force")
    assert alert.blocked and alert.severity == "high"
    # Check the admins are told, and vendors are not
    runtime.wait_for(runtime.ledger.position())
    assert "security_alert" in notification_types(client, admin_token)
    assert "security_alert" not in notification_types(client, vendor_token)

    clock.advance(seconds=BLOCK_SECONDS + 1)

    assert log_in(client, PASSWORD)[0] == 200


def test_failed_logins_for_one_account_block_the_addresses_trying_it(client, runtime, vendor_token):
    for n in range(LOGINS - 1):
        assert log_in(client, "wrong-password", ip=f"192.0.2.{n}")[0] == 401

    assert log_in(client, "wrong-password", ip="192.0.2.99")[0] == 401

    # Check the address that reached the account's threshold is blocked, and the earlier ones are not
    assert log_in(client, PASSWORD, ip="192.0.2.99")[0] == 401
    assert log_in(client, PASSWORD, ip="192.0.2.0")[0] == 200
    assert [alert.details["reason"] for alert in alerts(runtime, "brute_force")] == ["failed_logins_for_account"]


def test_a_blocked_address_learns_nothing_of_a_deactivated_account(client, runtime, admin_token, vendor_token):
    vendor_id = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]["id"]
    assert client.put(f"/api/admin/users/{vendor_id}", json={"is_active": False},
                      headers=auth(admin_token)).status_code == 200
    assert log_in(client, PASSWORD)[0] == 403  # before the block: ACCOUNT_DEACTIVATED, as ever
    for _ in range(LOGINS):
        log_in(client, "wrong-password")

    assert log_in(client, PASSWORD) == log_in(client, "wrong-password")


def test_unknown_keys_from_an_address_block_its_client_calls(client, runtime, license):
    def validate(key, ip="203.0.113.50"):
        body = {"license_key": key, "hwid": "device-1", "product_id": license["product_id"]}
        return post_raw(client, "/api/client/validate", [json.dumps(body).encode()], ip=ip)

    guesses = [validate(f"KL-GUESS-{n:04d}")[0] for n in range(UNKNOWN_KEYS)]

    assert guesses == [404] * UNKNOWN_KEYS
    # Check the address is now refused whatever it sends, another is not, and the block is on record
    status, _, body = validate(license["license_key"])
    assert (status, body["error_code"], body["security_details"]["type"]) == (403, "BLACKLISTED", "ip")
    assert validate(license["license_key"], ip="203.0.113.51")[2].get("error_code") != "BLACKLISTED"
    [alert] = alerts(runtime, "brute_force")
    assert alert.details["reason"] == "unknown_license_keys" and alert.details["failures"] == UNKNOWN_KEYS
