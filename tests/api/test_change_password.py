"""`POST /auth/change-password`: the current password is required; changing it, or deactivating the account,
ends every token the account holds at once (the new password's answer brings a new token)."""

import pytest

from tests.conftest import auth

OLD, NEW = "secret123", "a-new-passphrase"


def change(client, token, current=OLD, new=NEW):
    return client.post("/api/auth/change-password", json={"current_password": current, "new_password": new},
                       headers=auth(token))


def log_in(client, password, email="vendor@example.com"):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_a_changed_password_ends_every_earlier_token_and_opens_with_the_new_one(client, vendor_token):
    other_session = log_in(client, OLD).json()["data"]["token"]

    answer = change(client, vendor_token)

    assert answer.status_code == 200, answer.text
    fresh = answer.json()["data"]["token"]
    # Check both earlier tokens are ended, the answer's token works, and only the new password logs in
    for ended in (vendor_token, other_session):
        refused = client.get("/api/auth/me", headers=auth(ended))
        assert (refused.status_code, refused.json()["error_code"]) == (401, "UNAUTHORIZED")
    assert client.get("/api/auth/me", headers=auth(fresh)).json()["data"]["email"] == "vendor@example.com"
    assert log_in(client, OLD).status_code == 401
    assert client.get("/api/auth/me", headers=auth(log_in(client, NEW).json()["data"]["token"])).status_code == 200


def test_a_wrong_current_password_changes_nothing(client, vendor_token):
    answer = change(client, vendor_token, current="not-my-password")

    assert (answer.status_code, answer.json()["error_code"]) == (403, "INVALID_CREDENTIALS")
    assert client.get("/api/auth/me", headers=auth(vendor_token)).status_code == 200
    assert log_in(client, OLD).status_code == 200


@pytest.mark.parametrize("body", [{"current_password": OLD, "new_password": "short"}, {"new_password": NEW},
                                  {"current_password": OLD, "new_password": NEW, "extra": 1}])
def test_a_bad_body_is_refused_and_changes_nothing(client, vendor_token, body):
    answer = client.post("/api/auth/change-password", json=body, headers=auth(vendor_token))

    assert (answer.status_code, answer.json()["error_code"]) == (400, "VALIDATION_ERROR")
    assert log_in(client, OLD).status_code == 200


def test_changing_a_password_needs_a_token(client):
    assert client.post("/api/auth/change-password", json={"current_password": OLD, "new_password": NEW}
                       ).status_code == 401


def test_a_deactivated_account_s_tokens_stay_ended_when_it_is_reactivated(client, admin_token, vendor_token):
    vendor_id = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]["id"]

    for is_active in (False, True):
        assert client.put(f"/api/admin/users/{vendor_id}", json={"is_active": is_active},
                          headers=auth(admin_token)).status_code == 200

    assert client.get("/api/auth/me", headers=auth(vendor_token)).status_code == 401
    assert client.get("/api/auth/me", headers=auth(log_in(client, OLD).json()["data"]["token"])).status_code == 200


def test_a_refreshed_token_keeps_working_after_the_refresh(client, vendor_token):
    refreshed = client.post("/api/auth/refresh", headers=auth(vendor_token)).json()["data"]["token"]

    assert client.get("/api/auth/me", headers=auth(refreshed)).status_code == 200
