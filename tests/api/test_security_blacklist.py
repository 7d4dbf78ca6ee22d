"""The blacklist endpoints and quick blocks: admin only, CIDR networks, expiry, every change an event."""

from datetime import timedelta

import pytest

from domain.security import SecurityAlert
from tests.conftest import auth, calling_from, settle
from workers.expiry import sweep_blacklist


def body_for(license, hwid="device-1", **extra):
    return {"license_key": license["license_key"], "hwid": hwid, "product_id": license["product_id"], **extra}


def activate_from(client, license, ip, **extra):
    with calling_from(client, ip):
        return client.post("/api/client/activate", json=body_for(license, **extra))


def add(client, admin_token, **body):
    response = client.post("/api/security/blacklist", json={"reason": "abuse", **body}, headers=auth(admin_token))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def stored_events(runtime, kind):
    notifications = runtime.ledger.recorder.select_notifications(start=1, limit=100_000)
    events = (runtime.ledger.mapper.to_domain_event(notification) for notification in notifications)
    return [event for event in events if isinstance(event, kind)]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/security/blacklist", None), ("POST", "/api/security/blacklist", {"type": "ip", "value": "10.0.0.1"}),
    ("DELETE", "/api/security/blacklist/00000000-0000-0000-0000-000000000001", None),
    ("POST", "/api/security/block-ip", {"ip": "10.0.0.1"}), ("POST", "/api/security/block-hwid", {"hwid": "x"}),
])
def test_a_vendor_who_is_not_an_admin_is_forbidden(client, vendor_token, runtime, method, path, body):
    before = runtime.ledger.position()
    response = client.request(method, path, headers=auth(vendor_token), json=body)
    assert runtime.ledger.position() == before
    assert response.status_code == 403
    assert response.json()["error_code"] == "FORBIDDEN"


@pytest.mark.parametrize(("network", "inside", "outside"), [
    ("203.0.113.0/24", "203.0.113.77", "203.0.114.1"),
    ("2001:db8:abcd::/48", "2001:db8:abcd:12::5", "2001:db8:abce::1"),
])
def test_a_network_entry_refuses_every_address_inside_it(client, admin_token, license, network, inside, outside):
    entry = add(client, admin_token, type="ip", value=network, severity="high")
    assert (entry["value"], entry["is_active"]) == (network, True)

    refused = activate_from(client, license, inside)
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "BLACKLISTED"
    assert activate_from(client, license, outside).status_code == 200
    # Check removing it lets the next call from inside through.
    removed = client.delete(f"/api/security/blacklist/{entry['id']}", headers=auth(admin_token))
    assert removed.json()["data"] == {"id": entry["id"], "deleted": True}
    assert activate_from(client, license, inside).status_code == 200


def test_an_ipv4_network_also_covers_its_ipv4_mapped_ipv6_addresses(client, admin_token, license):
    add(client, admin_token, type="ip", value="198.51.100.0/24")
    assert activate_from(client, license, "::ffff:198.51.100.9").json()["error_code"] == "BLACKLISTED"


def test_a_fingerprint_entry_refuses_a_client_reporting_that_fingerprint(client, admin_token, license):
    add(client, admin_token, type="fingerprint", value="fp-8c1e")
    refused = client.post("/api/client/activate", json=body_for(license, client_data={"fingerprint": "fp-8c1e"}))
    allowed = client.post("/api/client/activate", json=body_for(license, client_data={"fingerprint": "fp-other"}))
    assert refused.json()["security_details"] == {"reason": "blacklist_hit", "type": "fingerprint"}
    assert allowed.status_code == 200


def test_an_entry_stops_blocking_at_its_expiry_and_the_sweeper_records_when(client, admin_token, license, runtime,
                                                                           clock):
    expires_at = clock() + timedelta(hours=2)
    entry = add(client, admin_token, type="hwid", value="device-1", expires_at=expires_at.isoformat())
    assert client.post("/api/client/activate", json=body_for(license)).json()["error_code"] == "BLACKLISTED"

    clock.advance(hours=2)
    assert client.post("/api/client/activate", json=body_for(license)).status_code == 200
    listed = client.get("/api/security/blacklist?is_active=false", headers=auth(admin_token)).json()["data"]
    assert [row["id"] for row in listed["entries"]] == [entry["id"]]
    # Check the sweeper records the expiry at the entry's own time, and only once.
    clock.advance(hours=5)
    settle(runtime)
    assert sweep_blacklist(runtime.ledger, runtime.store, clock()) == 1
    assert sweep_blacklist(runtime.ledger, runtime.store, clock()) == 0
    settle(runtime)
    row = client.get("/api/security/blacklist", headers=auth(admin_token)).json()["data"]["entries"][0]
    assert (row["end_reason"], row["ended_at"][:19]) == ("expired", expires_at.isoformat()[:19])


def test_adding_a_value_again_renews_the_same_entry(client, admin_token, runtime):
    first = add(client, admin_token, type="hwid", value="PC-1", severity="low")
    client.delete(f"/api/security/blacklist/{first['id']}", headers=auth(admin_token))
    again = add(client, admin_token, type="hwid", value="pc-1 ", severity="critical")
    assert (again["id"], again["severity"], again["is_active"]) == (first["id"], "critical", True)
    from domain.blacklist import BlacklistEntry

    kinds = [type(event).__name__ for event in stored_events(runtime, BlacklistEntry.Event)]
    assert kinds == ["Added", "Removed", "Readded"]


def test_the_list_filters_by_type_severity_and_activity_and_pages(client, admin_token, clock):
    add(client, admin_token, type="ip", value="10.1.0.0/16", severity="high")
    add(client, admin_token, type="hwid", value="a", severity="low")
    gone = add(client, admin_token, type="license", value="AAAA-BBBB-CCCC", severity="high")
    client.delete(f"/api/security/blacklist/{gone['id']}", headers=auth(admin_token))

    def values(query):
        response = client.get(f"/api/security/blacklist?{query}", headers=auth(admin_token))
        assert response.status_code == 200, response.text
        return sorted(row["value"] for row in response.json()["data"]["entries"])

    assert values("type=ip") == ["10.1.0.0/16"]
    assert values("severity=high") == ["10.1.0.0/16", "AAAA-BBBB-CCCC"]
    assert values("is_active=true") == ["10.1.0.0/16", "a"]
    assert values("is_active=false&severity=high") == ["AAAA-BBBB-CCCC"]
    page = client.get("/api/security/blacklist?limit=2&page=2", headers=auth(admin_token)).json()["data"]
    assert (len(page["entries"]), page["pagination"]) == (1, {"page": 2, "limit": 2, "total": 3, "pages": 2})


def test_block_ip_places_an_entry_for_a_day_and_raises_a_blocked_alert(client, admin_token, license, runtime, clock):
    response = client.post("/api/security/block-ip", json={"ip": "192.0.2.10", "reason": "Malicious activity"},
                           headers=auth(admin_token))
    assert response.status_code == 201, response.text
    entry = response.json()["data"]
    assert entry["expires_at"][:19] == (clock() + timedelta(hours=24)).isoformat()[:19]
    alerts = stored_events(runtime, SecurityAlert.Raised)
    assert [(alert.ip, alert.blocked, alert.details["reason"]) for alert in alerts] == [
        ("192.0.2.10", True, "Malicious activity")]
    assert activate_from(client, license, "192.0.2.10").json()["error_code"] == "BLACKLISTED"
    clock.advance(hours=24)
    assert activate_from(client, license, "192.0.2.10").status_code == 200


def test_block_hwid_lasts_thirty_days_by_default(client, admin_token, license, clock):
    response = client.post("/api/security/block-hwid", json={"hwid": "device-1"}, headers=auth(admin_token))
    assert response.json()["data"]["expires_at"][:19] == (clock() + timedelta(hours=720)).isoformat()[:19]
    clock.advance(hours=719)
    assert client.post("/api/client/activate", json=body_for(license)).json()["error_code"] == "BLACKLISTED"
    clock.advance(hours=1)
    assert client.post("/api/client/activate", json=body_for(license)).status_code == 200


@pytest.mark.parametrize(("path", "body"), [
    ("/api/security/blacklist", {"type": "email", "value": "a@b.c"}),
    ("/api/security/blacklist", {"type": "ip", "value": "not-an-ip"}),
    ("/api/security/blacklist", {"type": "ip", "value": "10.0.0.1/8"}),
    ("/api/security/blacklist", {"type": "ip", "value": "300.1.1.1"}),
    ("/api/security/blacklist", {"type": "hwid", "value": "   "}),
    ("/api/security/blacklist", {"type": "hwid", "value": "x", "severity": "extreme"}),
    ("/api/security/blacklist", {"type": "hwid", "value": "x", "expires_at": "2020-01-01T00:00:00Z"}),
    ("/api/security/blacklist", {"type": "hwid", "value": "x", "expires_at": "tomorrow"}),
    ("/api/security/block-ip", {"ip": "10.0.0.1", "duration_hours": -1}),
    ("/api/security/block-ip", {"ip": "10.0.0.1", "duration_hours": 0}),
    ("/api/security/block-ip", {"ip": "10.0.0.1", "duration_hours": 10**9}),
    ("/api/security/block-ip", {"ip": "somewhere"}),
    ("/api/security/block-hwid", {"hwid": ""}),
    ("/api/security/block-hwid", {"hwid": "\x1c\u00a0"}),
])
def test_bad_input_is_refused_and_writes_nothing(client, admin_token, runtime, path, body):
    before = runtime.ledger.position()
    response = client.post(path, json=body, headers=auth(admin_token))
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False
    assert runtime.ledger.position() == before


@pytest.mark.parametrize("query", ["page=0", "limit=101", "type=email", "is_active=maybe", "severity=info"])
def test_bad_list_filters_are_refused(client, admin_token, query):
    response = client.get(f"/api/security/blacklist?{query}", headers=auth(admin_token))
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_removing_an_unknown_entry_answers_404_and_writes_nothing(client, admin_token, runtime):
    before = runtime.ledger.position()
    response = client.delete("/api/security/blacklist/00000000-0000-0000-0000-000000000001",
                             headers=auth(admin_token))
    assert response.status_code == 404
    assert runtime.ledger.position() == before
