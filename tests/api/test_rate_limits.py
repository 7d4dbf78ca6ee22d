"""Rate limits (api/ratelimit.py): the vendor API per account (per address before login), client calls per
client (product + key + device) and per address; 429 in the envelope with Retry-After past a limit, the
RateLimit-* headers on every answer, and one `rate_limit_exceeded` alert per key and window. Counted in
memory on the embedded default and in Redis beside PostgreSQL."""

import json
import time

import msgspec
import pytest
from eventsourcing.utils import get_topic

from domain.security import SecurityAlert
from keyledger.wiring import build_runtime
from tests.api.test_direct_validation import handled, post_raw  # noqa: F401 (a fixture)
from tests.conftest import REDIS_URL, auth, register

API, VALIDATION, CLIENT_IP = 30, 3, 12


@pytest.fixture
def settings(settings, backend):
    """The limits on, low; beside PostgreSQL, counted in Redis (as production runs)."""
    return msgspec.structs.replace(settings, rate_limit_api=API, rate_limit_validation=VALIDATION,
                                   rate_limit_client_ip=CLIENT_IP,
                                   redis_url=REDIS_URL if backend == "postgres" else None)


def alerts(runtime, event_type="rate_limit_exceeded"):
    """The `SecurityAlert.Raised` events of `event_type` in the event store."""
    log, start, raised = runtime.ledger.notification_log, 1, []
    while page := log.select(start, log.section_size, topics=[get_topic(SecurityAlert.Raised)]):
        raised += [runtime.ledger.mapper.to_domain_event(notification) for notification in page]
        start = page[-1].id + 1
    return [alert for alert in raised if alert.event_type == event_type]


def validate(client, license, hwid="device-1", key=None):
    body = {"license_key": key or license["license_key"], "hwid": hwid, "product_id": license["product_id"]}
    return post_raw(client, "/api/client/validate", [json.dumps(body).encode()])


def test_an_account_past_the_vendor_limit_gets_429_with_retry_after(client, vendor_token, admin_token):
    answers = [client.get("/api/auth/me", headers=auth(vendor_token)) for _ in range(API + 2)]

    # Check every answer says where the account stands, and the ones past the limit are refused
    assert [a.status_code for a in answers] == [200] * API + [429] * 2
    assert [int(a.headers["ratelimit-remaining"]) for a in answers[:3]] == [API - 1, API - 2, API - 3]
    assert answers[0].headers["ratelimit-limit"] == str(API) and answers[0].headers["ratelimit-policy"] == f"{API};w=60"
    refused = answers[-1]
    assert refused.json() == {"success": False, "message": refused.json()["message"],
                              "error_code": "RATE_LIMIT_EXCEEDED"}
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and refused.headers["ratelimit-remaining"] == "0"
    # Check another account keeps its own budget
    assert client.get("/api/auth/me", headers=auth(admin_token)).status_code == 200


def test_before_login_the_vendor_limit_counts_the_address(client):
    answers = [client.post("/api/auth/login", json={"email": f"nobody{n}@example.com", "password": "wrong-pass"})
               for n in range(API + 1)]

    assert [a.status_code for a in answers] == [401] * API + [429]


def test_a_plain_validation_is_limited_on_the_direct_path(client, runtime, license, handled):  # noqa: F811
    assert client.post("/api/client/activate", json={"license_key": license["license_key"], "hwid": "device-1",
                                                     "product_id": license["product_id"]}).status_code == 200

    answers = [validate(client, license) for _ in range(VALIDATION)]

    # Check the activation and the validations share the device's budget, and the direct way refuses past it
    assert [status for status, _, _ in answers] == [200] * (VALIDATION - 1) + [429]
    status, headers, body = answers[-1]
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED" and headers["retry-after"]
    assert answers[0][1]["ratelimit-remaining"] == str(VALIDATION - 2)
    assert handled == [], "the direct front door answered every one"
    # Check the same key on another device is not held back
    assert validate(client, license, hwid="device-2")[0] == 403  # HWID_MISMATCH: judged, not limited


def test_the_first_refusal_of_a_window_raises_one_alert(client, runtime, license):
    for _ in range(VALIDATION + 4):
        validate(client, license)

    raised = alerts(runtime)
    assert len(raised) == 1
    assert raised[0].blocked is True and str(raised[0].product_id) == license["product_id"]


def test_the_address_ceiling_catches_key_guessing(client, runtime, license):
    answers = [validate(client, license, key=f"KL-GUESS-{n:04d}")[0] for n in range(CLIENT_IP + 2)]

    assert answers == [404] * CLIENT_IP + [429] * 2
    assert len(alerts(runtime)) == 1


def test_a_client_is_counted_alike_whether_or_not_its_key_is_remembered(client, license, monkeypatch):
    from api import ratelimit

    monkeypatch.setattr(ratelimit, "CLIENT_KEYS_KEPT", 1)  # each new client forgets the last one's key
    first = [validate(client, license)[0] for _ in range(VALIDATION)]
    other = validate(client, license, hwid="device-2")[0]

    assert 429 not in first and other != 429  # refused or not, a call counts
    assert validate(client, license)[0] == 429  # device-1's fourth call, its key hashed again
    assert len(ratelimit._CLIENT_KEYS) == 1


def test_a_window_past_lets_the_client_call_again(settings, client, runtime, license):
    runtime.settings = msgspec.structs.replace(settings, rate_limit_window_seconds=1)
    assert [validate(client, license)[0] for _ in range(VALIDATION + 1)][-1] == 429

    time.sleep(1.2)

    assert validate(client, license)[0] != 429


def test_limits_turned_off_answer_without_headers(client, runtime, license):
    runtime.settings = msgspec.structs.replace(runtime.settings, rate_limit_api=0, rate_limit_validation=0,
                                               rate_limit_client_ip=0)

    answers = [validate(client, license) for _ in range(VALIDATION + 2)]

    assert 429 not in {status for status, _, _ in answers}
    assert all("ratelimit-limit" not in headers for _, headers, _ in answers)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_with_redis_unreachable_requests_are_answered_and_limited_per_process(settings, capfd):
    from litestar.testing import TestClient

    from api.app import create_app

    closed_port = msgspec.structs.replace(settings, redis_url="redis://127.0.0.1:1/0")
    runtime = build_runtime(closed_port)
    try:
        with TestClient(app=create_app(runtime)) as client:
            token = register(client, "vendor@example.com")
            answers = [client.get("/api/auth/me", headers=auth(token)).status_code for _ in range(API + 1)]
    finally:
        runtime.close()

    # Check nothing failed for want of Redis, the limit held in memory, and the log says why
    assert answers == [200] * API + [429]
    assert "counting in memory for 5.0s: Redis is unreachable" in capfd.readouterr().err


def test_a_refusal_at_the_entry_names_its_request(client, runtime, vendor_token):
    answers = [client.get("/api/auth/me", headers={**auth(vendor_token), "X-Request-ID": f"req-{n}"})
               for n in range(API + 1)]

    # Check the 429 answered before routing sends the request's id back, as every vendor answer does
    assert answers[-1].status_code == 429 and answers[-1].headers["x-request-id"] == f"req-{API}"
    # Check its alert names the request: the vendor API, the caller's request id and address
    actor = alerts(runtime)[0].actor
    assert (actor.channel, actor.request_id, actor.ip) == ("vendor_api", f"req-{API}", "testclient")
