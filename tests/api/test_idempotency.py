"""`Idempotency-Key` on vendor writes: a retry gets the first answer and writes nothing new (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from uuid import UUID

from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from api.app import create_app
from api.idempotency import WRITES, IdempotencyMiddleware, takes_idempotency_key
from keyledger.wiring import build_runtime
from tests.conftest import auth, create_license, create_product, settle


def keyed(token: str, key: str) -> dict[str, str]:
    return {**auth(token), "Idempotency-Key": key}


def license_count(client, token: str) -> int:
    return client.get("/api/licenses", headers=auth(token)).json()["data"]["pagination"]["total"]


def test_a_retried_create_gets_the_first_answer_and_issues_nothing_new(client, vendor_token):
    product = create_product(client, vendor_token)
    body = {"product_id": product["id"], "max_uses": 2}

    first = client.post("/api/licenses", json=body, headers=keyed(vendor_token, "order-1"))
    again = client.post("/api/licenses", json=body, headers=keyed(vendor_token, "order-1"))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert license_count(client, vendor_token) == 1


def test_without_a_key_every_request_writes(client, vendor_token):
    product = create_product(client, vendor_token)
    create_license(client, vendor_token, product["id"])
    create_license(client, vendor_token, product["id"])
    assert license_count(client, vendor_token) == 2


def test_a_key_sent_with_another_request_is_refused_and_writes_nothing(client, vendor_token):
    product = create_product(client, vendor_token)
    client.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "k"))

    other = client.post("/api/licenses", json={"product_id": product["id"], "max_uses": 3},
                        headers=keyed(vendor_token, "k"))

    assert other.status_code == 422
    assert other.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED" and other.json()["success"] is False
    assert license_count(client, vendor_token) == 1


def test_keys_belong_to_their_account(client, admin_token, vendor_token):
    mine = create_product(client, vendor_token)
    theirs = create_product(client, admin_token)

    first = client.post("/api/licenses", json={"product_id": mine["id"]}, headers=keyed(vendor_token, "same"))
    second = client.post("/api/licenses", json={"product_id": theirs["id"]}, headers=keyed(admin_token, "same"))

    assert first.status_code == second.status_code == 201
    assert first.json()["data"]["id"] != second.json()["data"]["id"]


def test_a_malformed_key_is_refused(client, vendor_token):
    product = create_product(client, vendor_token)
    for key in (b"x" * 256, "caf\u00e9".encode()):
        answer = client.post("/api/licenses", json={"product_id": product["id"]},
                             headers={**auth(vendor_token), "Idempotency-Key": key})
        assert answer.status_code == 400, key
        assert answer.json()["error_code"] == "VALIDATION_ERROR"
    assert license_count(client, vendor_token) == 0


def test_a_state_change_is_done_once(client, vendor_token, runtime):
    product = create_product(client, vendor_token)
    first = client.post(f"/api/products/{product['id']}/regenerate-secret", headers=keyed(vendor_token, "rot"))
    again = client.post(f"/api/products/{product['id']}/regenerate-secret", headers=keyed(vendor_token, "rot"))

    assert again.json()["data"]["secret_key"] == first.json()["data"]["secret_key"] != product["secret_key"]
    events = runtime.ledger.recorder.select_events(UUID(product["id"]))
    assert [e.topic.rsplit(".", 1)[1] for e in events].count("SecretRotated") == 1


def test_the_first_answer_is_replayed_by_another_process(client, vendor_token, settings, clock):
    product = create_product(client, vendor_token)
    first = client.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "p"))

    other = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    with TestClient(app=create_app(other)) as elsewhere:
        again = elsewhere.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "p"))
    assert again.status_code == 201 and again.json() == first.json()
    assert license_count(client, vendor_token) == 1


def test_a_key_whose_answer_was_lost_names_what_it_recorded(client, vendor_token, runtime):
    product = create_product(client, vendor_token)
    first = client.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "lost"))
    with runtime.store.transaction() as cursor:  # the process died after the write, before keeping its answer
        cursor.execute("DELETE FROM idempotent_answers")

    again = client.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "lost"))

    assert again.status_code == 409 and again.headers["retry-after"] == "1"
    assert again.json()["error_code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert first.json()["data"]["id"] in again.json()["recorded_ids"]
    assert license_count(client, vendor_token) == 1


def test_racing_requests_with_one_key_write_once(client, vendor_token):
    product = create_product(client, vendor_token)
    barrier, answers = threading.Barrier(6), []

    def send() -> None:
        barrier.wait()
        answers.append(client.post("/api/licenses/bulk", json={"product_id": product["id"], "count": 3},
                                   headers=keyed(vendor_token, "race")))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert license_count(client, vendor_token) == 3
    assert {answer.status_code for answer in answers} <= {201, 409}
    assert [answer.json() for answer in answers if answer.status_code == 201][0]["data"]["created"] == 3


def test_a_key_starts_a_new_write_once_its_day_is_over(client, vendor_token, clock, runtime):
    product = create_product(client, vendor_token)
    client.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "daily"))
    clock.advance(hours=24, seconds=1)
    vendor_token = client.post("/api/auth/login", json={"email": "vendor@example.com", "password": "secret123"}
                               ).json()["data"]["token"]  # the first token has lapsed too

    later = client.post("/api/licenses", json={"product_id": product["id"]}, headers=keyed(vendor_token, "daily"))

    assert later.status_code == 201 and "idempotent-replayed" not in later.headers
    settle(runtime)
    assert license_count(client, vendor_token) == 2


def test_a_kept_answer_is_sealed_not_stored_in_clear(client, vendor_token, runtime):
    created = client.post("/api/products", json={"name": "sealed"}, headers=keyed(vendor_token, "seal-1"))
    secret = created.json()["data"]["secret_key"]

    stored = runtime.store.query("SELECT body FROM idempotent_answers")
    again = client.post("/api/products", json={"name": "sealed"}, headers=keyed(vendor_token, "seal-1"))

    assert len(stored) == 1 and secret not in stored[0]["body"] and "sealed" not in stored[0]["body"]
    assert again.status_code == 201 and again.json() == created.json()


def test_an_answer_kept_in_clear_before_sealing_still_replays(client, vendor_token, runtime):
    first = client.post("/api/products", json={"name": "old"}, headers=keyed(vendor_token, "old-row"))
    with runtime.store.transaction() as cursor:  # as a row written by an older server: the body in clear
        cursor.execute("UPDATE idempotent_answers SET body = ?", (first.content.decode(),))

    again = client.post("/api/products", json={"name": "old"}, headers=keyed(vendor_token, "old-row"))

    assert again.status_code == 201 and again.json() == first.json()


def test_every_vendor_write_and_no_other_write_passes_through_the_keys(runtime):
    routes = [(method, route.path, handler) for route in create_app(runtime).routes if isinstance(route, HTTPRoute)
              for handler in route.route_handlers for method in handler.http_methods & WRITES]
    keyed_routes = {(method, path) for method, path, handler in routes
                    if any(isinstance(layer, IdempotencyMiddleware) for layer in handler.resolve_middleware())}

    assert keyed_routes == {(method, path) for method, path, _ in routes if takes_idempotency_key(method, path)}
    assert ("POST", "/api/admin/import") in keyed_routes and ("POST", "/api/client/validate") not in keyed_routes
