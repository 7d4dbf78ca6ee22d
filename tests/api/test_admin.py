"""Admin: listing accounts and changing roles is for admins only."""

from uuid import UUID

from tests.conftest import auth, register, settle
from tests.integration.conftest import race


def test_admin_lists_every_account(client, admin_token, vendor_token):
    response = client.get("/api/admin/users", headers=auth(admin_token))
    emails = [user["email"] for user in response.json()["data"]["users"]]
    assert emails == ["admin@example.com", "vendor@example.com"]
    assert response.json()["data"]["pagination"]["total"] == 2


def test_vendor_cannot_use_admin_endpoints(client, admin_token, vendor_token):
    me = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]
    assert client.get("/api/admin/users", headers=auth(vendor_token)).status_code == 403
    response = client.put(f"/api/admin/users/{me['id']}", json={"role": "admin"}, headers=auth(vendor_token))
    assert response.status_code == 403
    assert client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]["role"] == "user"


def test_promoted_account_gains_admin_rights_at_once(client, admin_token, vendor_token):
    me = client.get("/api/auth/me", headers=auth(vendor_token)).json()["data"]
    response = client.put(f"/api/admin/users/{me['id']}", json={"role": "admin"}, headers=auth(admin_token))
    assert response.json()["data"]["role"] == "admin"
    assert client.get("/api/admin/users", headers=auth(vendor_token)).status_code == 200


def test_unknown_role_or_user_is_refused(client, admin_token):
    me = client.get("/api/auth/me", headers=auth(admin_token)).json()["data"]
    bad = client.put(f"/api/admin/users/{me['id']}", json={"role": "superuser"}, headers=auth(admin_token))
    missing = client.put("/api/admin/users/00000000-0000-4000-8000-000000000000", json={"role": "user"},
                         headers=auth(admin_token))
    assert bad.status_code == 400
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "USER_NOT_FOUND"


def test_reactivated_account_can_log_in_again(client, admin_token):
    token = register(client, "v@example.com")
    user_id = client.get("/api/auth/me", headers=auth(token)).json()["data"]["id"]
    client.put(f"/api/admin/users/{user_id}", json={"is_active": False}, headers=auth(admin_token))
    client.put(f"/api/admin/users/{user_id}", json={"is_active": True}, headers=auth(admin_token))
    login = client.post("/api/auth/login", json={"email": "v@example.com", "password": "secret123"})
    assert login.status_code == 200


def test_admin_sees_every_read_model_at_the_head_with_nothing_passed_over(client, admin_token, vendor_token, runtime):
    settle(runtime)
    response = client.get("/api/admin/projections", headers=auth(admin_token))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["head"] == runtime.ledger.position() > 0
    assert {model["name"] for model in data["read_models"]} >= {"products", "licenses", "accounts"}
    assert all(model["behind"] == 0 and model["quarantined"] == [] for model in data["read_models"])
    assert client.get("/api/admin/projections", headers=auth(vendor_token)).status_code == 403


def user_id(client, token):
    return client.get("/api/auth/me", headers=auth(token)).json()["data"]["id"]


def test_the_only_admin_can_neither_demote_nor_deactivate_itself(client, admin_token, vendor_token):
    me = user_id(client, admin_token)
    for change in ({"role": "user"}, {"is_active": False}, {"role": "user", "is_active": False}):
        response = client.put(f"/api/admin/users/{me}", json=change, headers=auth(admin_token))

        assert response.status_code == 409, change
        assert response.json() == {"success": False, "message": "The server must keep at least one active admin",
                                   "error_code": "LAST_ADMIN"}
    # Check the admin is still one, and still signed in.
    assert client.get("/api/auth/me", headers=auth(admin_token)).json()["data"]["role"] == "admin"


def test_an_admin_may_step_down_once_another_is_active(client, admin_token, vendor_token):
    client.put(f"/api/admin/users/{user_id(client, vendor_token)}", json={"role": "admin"}, headers=auth(admin_token))

    response = client.put(f"/api/admin/users/{user_id(client, admin_token)}", json={"role": "user"},
                          headers=auth(admin_token))

    assert response.status_code == 200 and response.json()["data"]["role"] == "user"
    assert client.get("/api/admin/users", headers=auth(admin_token)).status_code == 403


def test_two_admins_demoting_each_other_at_once_leave_one_admin(client, runtime, admin_token, vendor_token):
    one, two = user_id(client, admin_token), user_id(client, vendor_token)
    client.put(f"/api/admin/users/{two}", json={"role": "admin"}, headers=auth(admin_token))

    outcomes = race(
        lambda: client.put(f"/api/admin/users/{two}", json={"role": "user"}, headers=auth(admin_token)),
        lambda: client.put(f"/api/admin/users/{one}", json={"is_active": False}, headers=auth(vendor_token)),
    )

    # Check one winner; the loser gets an envelope, not a 500 or a store conflict: 409 when both got past the
    # admin check together, or, when the winner was done first (a loaded machine), refused as no admin now.
    answers = sorted((response.status_code, response.json().get("error_code")) for _, response in outcomes)
    assert answers in ([(200, None), (409, "LAST_ADMIN")], [(200, None), (401, "UNAUTHORIZED")],
                       [(200, None), (403, "FORBIDDEN")]), [response.text for _, response in outcomes]
    assert sum(runtime.ledger.get_account(UUID(i)).is_active_admin for i in (one, two)) == 1
