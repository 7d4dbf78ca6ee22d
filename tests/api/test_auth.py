"""Auth: register, login, refresh, me; roles; deactivation; token expiry."""

import msgspec
from argon2 import extract_parameters
from litestar.testing import TestClient

from api.app import create_app
from keyledger.wiring import build_runtime
from tests.conftest import auth, register


def test_first_account_is_admin_and_later_ones_are_users(client):
    admin = client.post("/api/auth/register", json={"email": "a@example.com", "password": "secret123"})
    user = client.post("/api/auth/register", json={"email": "b@example.com", "password": "secret123"})

    # Check the spec's register shape and the first-account rule.
    assert admin.status_code == 201
    assert admin.json()["data"]["user"]["role"] == "admin"
    assert user.json()["data"]["user"]["role"] == "user"
    assert set(user.json()["data"]["user"]) >= {"id", "email", "display_name", "role"}


def test_duplicate_email_is_refused_whatever_its_case(client):
    register(client, "john@example.com")
    response = client.post("/api/auth/register", json={"email": "John@Example.com", "password": "secret123"})
    assert response.status_code == 409
    assert response.json() == {"success": False, "message": "Email is already registered",
                               "error_code": "EMAIL_ALREADY_REGISTERED"}


def test_login_returns_a_token_that_opens_me(client):
    register(client, "john@example.com")
    login = client.post("/api/auth/login", json={"email": "john@example.com", "password": "secret123"})
    me = client.get("/api/auth/me", headers=auth(login.json()["data"]["token"]))
    assert me.status_code == 200
    assert me.json()["data"]["email"] == "john@example.com"
    assert "created_at" in me.json()["data"]


def test_wrong_password_and_unknown_email_answer_alike(client):
    register(client, "john@example.com")
    wrong = client.post("/api/auth/login", json={"email": "john@example.com", "password": "nope-nope"})
    unknown = client.post("/api/auth/login", json={"email": "ghost@example.com", "password": "secret123"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_requests_without_a_valid_token_are_unauthorised(client):
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/products", headers=headers)
        assert response.status_code == 401
        assert response.json()["error_code"] == "UNAUTHORIZED"


def test_token_expires_after_its_ttl_and_refresh_renews_it(client, clock):
    token = register(client, "john@example.com")
    clock.advance(hours=23)
    fresh = client.post("/api/auth/refresh", headers=auth(token)).json()["data"]["token"]
    clock.advance(hours=2)

    # Check the old token lapsed after 24 h while the refreshed one still works.
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 401
    assert client.get("/api/auth/me", headers=auth(fresh)).status_code == 200


def test_deactivated_account_cannot_log_in_and_its_tokens_stop_working(client, admin_token):
    token = register(client, "vendor@example.com")
    user_id = client.get("/api/auth/me", headers=auth(token)).json()["data"]["id"]

    response = client.put(f"/api/admin/users/{user_id}", json={"is_active": False}, headers=auth(admin_token))

    assert response.status_code == 200
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 401
    login = client.post("/api/auth/login", json={"email": "vendor@example.com", "password": "secret123"})
    assert login.status_code == 403
    assert login.json()["error_code"] == "ACCOUNT_DEACTIVATED"


def test_register_validates_its_fields(client):
    bad_bodies = [
        {"email": "not-an-email", "password": "secret123"},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com"},
        {"email": 42, "password": "secret123"},
        {"email": "a@example.com", "password": "secret123", "role": "admin"},
    ]
    for body in bad_bodies:
        response = client.post("/api/auth/register", json=body)
        assert response.status_code == 400, body
        assert response.json()["error_code"] == "VALIDATION_ERROR"
    # Check nothing was written: the next account is still the first, hence admin.
    assert client.post("/api/auth/register", json={"email": "a@example.com", "password": "secret123"}).json()[
        "data"]["user"]["role"] == "admin"


def test_refresh_retires_the_token_it_was_given_and_the_new_one_works(client):
    token = register(client, "john@example.com")

    fresh = client.post("/api/auth/refresh", headers=auth(token))

    assert fresh.status_code == 200
    fresh_token = fresh.json()["data"]["token"]
    # Check the old token opens nothing any more, not even another refresh; the new one works and refreshes.
    for method, path in (("GET", "/api/auth/me"), ("POST", "/api/auth/refresh"), ("GET", "/api/products")):
        old = client.request(method, path, headers=auth(token))
        assert old.status_code == 401, path
        assert old.json()["error_code"] == "UNAUTHORIZED"
    assert client.get("/api/auth/me", headers=auth(fresh_token)).json()["data"]["email"] == "john@example.com"
    again = client.post("/api/auth/refresh", headers=auth(fresh_token)).json()["data"]["token"]
    assert client.get("/api/auth/me", headers=auth(again)).status_code == 200
    assert client.get("/api/auth/me", headers=auth(fresh_token)).status_code == 401


def test_a_refreshed_token_is_refused_by_every_api_process(client, settings, clock):
    token = register(client, "john@example.com")
    other = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    try:
        with TestClient(app=create_app(other)) as other_process:
            assert other_process.get("/api/auth/me", headers=auth(token)).status_code == 200

            client.post("/api/auth/refresh", headers=auth(token))

            # Check the other process, which shares only the store, refuses the retired token at once.
            assert other_process.get("/api/auth/me", headers=auth(token)).status_code == 401
    finally:
        other.close()


def test_a_token_issued_in_the_future_is_refused(client, clock):
    token = register(client, "john@example.com")

    clock.advance(seconds=-20)  # within the leeway: another process's clock a little behind
    assert client.get("/api/auth/me", headers=auth(token)).status_code == 200
    clock.advance(minutes=-5)
    response = client.get("/api/auth/me", headers=auth(token))

    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHORIZED"


class RecordingHasher:
    """The argon2 hasher, recording the parameters of every hash it verifies against."""

    def __init__(self, hasher):
        self.hasher, self.verified = hasher, []

    def verify(self, password_hash, password):
        self.verified.append(repr(extract_parameters(password_hash)))
        return self.hasher.verify(password_hash, password)

    def hash(self, password):
        return self.hasher.hash(password)


def test_every_wrong_sign_in_answers_and_costs_alike(client, runtime, admin_token):
    register(client, "active@example.com")
    gone = register(client, "gone@example.com")
    gone_id = client.get("/api/auth/me", headers=auth(gone)).json()["data"]["id"]
    client.put(f"/api/admin/users/{gone_id}", json={"is_active": False}, headers=auth(admin_token))
    hasher = runtime.ledger.passwords._hasher = RecordingHasher(runtime.ledger.passwords._hasher)

    wrong = {name: client.post("/api/auth/login", json={"email": email, "password": "wrong-password"})
             for name, email in (("unknown", "ghost@example.com"), ("wrong password", "active@example.com"),
                                 ("deactivated", "gone@example.com"))}

    # Check the three are indistinguishable: same status and body, and one argon2 verification each, alike.
    assert {name: (answer.status_code, answer.json()) for name, answer in wrong.items()} == dict.fromkeys(
        wrong, (401, {"success": False, "message": "Invalid email or password", "error_code": "INVALID_CREDENTIALS"}))
    assert len(hasher.verified) == 3 and len(set(hasher.verified)) == 1
    # Check only the right password tells a deactivated account so.
    right = client.post("/api/auth/login", json={"email": "gone@example.com", "password": "secret123"})
    assert (right.status_code, right.json()["error_code"]) == (403, "ACCOUNT_DEACTIVATED")


def test_a_refresh_while_the_read_models_lag_still_hands_over_the_new_token(settings, clock):
    lagging = build_runtime(msgspec.structs.replace(settings, consistency_timeout=0.2), clock=clock,
                            start_projector=False, start_workers=False)
    try:
        lagging.ledger.register_account("john@example.com", "secret123", "John", clock())
        lagging.projector.catch_up()
        with TestClient(app=create_app(lagging)) as client:
            token = client.post("/api/auth/login", json={"email": "john@example.com", "password": "secret123"}).json()[
                "data"]["token"]

            refreshed = client.post("/api/auth/refresh", headers=auth(token))

            # Check the client is not left without a token, and the old one is refused once the models catch up.
            assert refreshed.status_code == 200
            lagging.projector.catch_up()
            assert client.get("/api/auth/me", headers=auth(token)).status_code == 401
            assert client.get("/api/auth/me", headers=auth(refreshed.json()["data"]["token"])).status_code == 200
    finally:
        lagging.close()
