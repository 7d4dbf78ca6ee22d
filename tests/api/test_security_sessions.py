"""Sessions under the admin's eye: listed, revoked one by one or by license, lapsed ones ended by the sweeper."""

import pytest

from domain.session import Session
from tests.conftest import auth, create_license, settle
from workers.expiry import sweep_sessions


def call(client, action, license, hwid="device-1", **extra):
    body = {"license_key": license["license_key"], "hwid": hwid, "product_id": license["product_id"], **extra}
    return client.post(f"/api/client/{action}", json=body)


def start(client, license, hwid="device-1"):
    response = call(client, "activate", license, hwid)
    assert response.status_code == 200, response.text
    return response.json()["data"]["session"]["token"]


def listed(client, admin_token, query=""):
    response = client.get(f"/api/security/sessions?{query}", headers=auth(admin_token))
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_revoked_session_is_refused_on_its_very_next_call(client, admin_token, license, runtime):
    token = start(client, license)
    settle(runtime)
    session = listed(client, admin_token)["sessions"][0]
    assert (session["license_id"], session["is_active"]) == (license["id"], True)

    response = client.post(f"/api/security/sessions/{session['id']}/revoke", json={"reason": "Suspicious activity"},
                           headers=auth(admin_token))
    assert response.status_code == 200, response.text
    assert (response.json()["data"]["is_active"], response.json()["data"]["end_reason"]) == (False, "revoked")
    heartbeat = call(client, "heartbeat", license, session_token=token)
    assert heartbeat.json()["error_code"] == "SESSION_EXPIRED"
    # Check the reason is kept with the event, and the list tells the truth.
    notifications = runtime.ledger.recorder.select_notifications(start=1, limit=10_000)
    ended = [event for event in map(runtime.ledger.mapper.to_domain_event, notifications)
             if isinstance(event, Session.Ended)]
    assert [(event.reason.value, event.note) for event in ended] == [("revoked", "Suspicious activity")]
    assert listed(client, admin_token, "is_active=true")["sessions"] == []


def test_revoking_a_licenses_sessions_ends_every_one_of_them(client, admin_token, vendor_token, product, runtime,
                                                              clock):
    license = create_license(client, vendor_token, product["id"], max_uses=2)
    other = create_license(client, vendor_token, product["id"])
    tokens = [start(client, license, "pc-1"), start(client, license, "pc-2")]
    other_token = start(client, other)
    settle(runtime)

    response = client.post(f"/api/security/licenses/{license['id']}/revoke-sessions",
                           json={"reason": "License compromised"}, headers=auth(admin_token))
    assert response.json()["data"] == {"license_id": license["id"], "revoked_sessions": 2}
    for hwid, token in zip(("pc-1", "pc-2"), tokens, strict=True):
        assert call(client, "heartbeat", license, hwid, session_token=token).json()["error_code"] == "SESSION_EXPIRED"
    assert call(client, "heartbeat", other, session_token=other_token).status_code == 200
    # Check the list shows them inactive at once, and the sweeper records each end as a revoke.
    assert listed(client, admin_token, f"license_id={license['id']}&is_active=true")["pagination"]["total"] == 0
    assert sweep_sessions(runtime.ledger, runtime.store, clock()) == 2
    settle(runtime)
    rows = listed(client, admin_token, f"license_id={license['id']}")["sessions"]
    assert sorted((row["hwid"], row["end_reason"]) for row in rows) == [("pc-1", "revoked"), ("pc-2", "revoked")]
    # ...and the devices may start new sessions afterwards.
    clock.advance(seconds=1)
    assert call(client, "heartbeat", license, "pc-1", session_token=start(client, license, "pc-1")).status_code == 200


def test_lapsed_sessions_are_ended_as_expired_by_the_sweeper(client, admin_token, license, runtime, clock):
    start(client, license)
    settle(runtime)
    clock.advance(hours=2)
    assert listed(client, admin_token, "is_active=false")["pagination"]["total"] == 1
    settle(runtime)

    assert sweep_sessions(runtime.ledger, runtime.store, clock()) == 1
    settle(runtime)
    assert listed(client, admin_token)["sessions"][0]["end_reason"] == "expired"


def test_the_list_filters_by_license_and_pages(client, admin_token, vendor_token, product, runtime):
    first = create_license(client, vendor_token, product["id"], max_uses=3)
    second = create_license(client, vendor_token, product["id"])
    for hwid in ("a", "b", "c"):
        start(client, first, hwid)
    start(client, second)
    settle(runtime)

    assert listed(client, admin_token, f"license_id={first['id']}")["pagination"]["total"] == 3
    page = listed(client, admin_token, "limit=3&page=2")
    assert (len(page["sessions"]), page["pagination"]["total"]) == (1, 4)


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/api/security/sessions/00000000-0000-0000-0000-000000000001/revoke", {"reason": "x"}, 404),
    ("/api/security/licenses/00000000-0000-0000-0000-000000000001/revoke-sessions", {"reason": "x"}, 404),
    ("/api/security/sessions/not-a-uuid/revoke", {"reason": "x"}, 404),
    ("/api/security/sessions/00000000-0000-0000-0000-000000000001/revoke", {}, 400),
    ("/api/security/sessions/00000000-0000-0000-0000-000000000001/revoke", {"reason": ""}, 400),
])
def test_bad_revokes_are_refused_and_write_nothing(client, admin_token, runtime, path, body, status):
    before = runtime.ledger.position()
    response = client.post(path, json=body, headers=auth(admin_token))
    assert response.status_code == status, response.text
    assert response.json()["success"] is False
    assert runtime.ledger.position() == before


@pytest.mark.parametrize("query", ["page=0", "limit=1000", "license_id=nope", "is_active=perhaps"])
def test_bad_list_filters_are_refused(client, admin_token, query):
    response = client.get(f"/api/security/sessions?{query}", headers=auth(admin_token))
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/security/sessions", None),
    ("POST", "/api/security/sessions/00000000-0000-0000-0000-000000000001/revoke", {"reason": "x"}),
    ("POST", "/api/security/licenses/00000000-0000-0000-0000-000000000001/revoke-sessions", {"reason": "x"}),
])
def test_a_vendor_who_is_not_an_admin_is_forbidden(client, vendor_token, method, path, body):
    response = client.request(method, path, headers=auth(vendor_token), json=body)
    assert (response.status_code, response.json()["error_code"]) == (403, "FORBIDDEN")
