"""A change whose answer must be read from read models that lag behind it: 503, the change kept.

With the projector stopped (its process down, in production's topology), a write is still
recorded, but its answer would show it missing; the API says so instead of answering 404 or 500.
"""

from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from keyledger.settings import Settings
from keyledger.wiring import build_runtime
from tests.conftest import auth, register


@pytest.fixture
def lagging(settings: Settings, clock):
    runtime = build_runtime(msgspec.structs.replace(settings, consistency_timeout=0.2), clock=clock)
    with TestClient(app=create_app(runtime)) as client:
        token = register(client, "vendor@example.com")
        runtime.projector.stop()  # from here on, nothing moves the read models but the test
        yield runtime, client, token
    runtime.close()


def test_a_write_the_read_models_have_not_reached_answers_503_and_stays_recorded(lagging: Any) -> None:
    runtime, client, token = lagging

    response = client.post("/api/products", json={"name": "Late"}, headers=auth(token))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["success"] is False and body["error_code"] == "READ_MODELS_BEHIND"
    assert body["position"] == runtime.ledger.position()
    runtime.projector.catch_up()
    listed = client.get("/api/products", headers=auth(token)).json()["data"]
    assert [product["name"] for product in listed] == ["Late"]


def test_registering_while_the_read_models_lag_answers_503_not_500(lagging: Any) -> None:
    runtime, client, _ = lagging

    response = client.post("/api/auth/register", json={"email": "late@example.com", "password": "secret123"})

    assert response.status_code == 503
    assert response.json()["error_code"] == "READ_MODELS_BEHIND"
    runtime.projector.catch_up()
    login = client.post("/api/auth/login", json={"email": "late@example.com", "password": "secret123"})
    assert login.status_code == 200 and login.json()["data"]["user"]["email"] == "late@example.com"
