"""Audit API: signed checkpoints (admins) and the NDJSON export (admins everything, vendors their products)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from domain.audit import checkpoint_message
from projections.audit_export import ExportScope, export_lines
from tests.conftest import auth, create_license, create_product, register, settle
from workers.audit import verify_export

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def history(client, runtime, admin_token, vendor_token):
    """Two vendors, each with a product, licenses and a validation; the chains caught up."""
    other_token = register(client, "other@example.com")
    made = {}
    for name, token in (("vendor", vendor_token), ("other", other_token)):
        product = create_product(client, token, name=f"{name} app")
        license = create_license(client, token, product["id"])
        answer = client.post("/api/client/activate", json={"license_key": license["license_key"], "hwid": "d1",
                                                           "product_id": product["id"]})
        assert answer.status_code == 200
        made[name] = {"token": token, "product": product, "license": license}
    settle(runtime)
    runtime.audit.keeper.catch_up()
    return made


def lines_of(response):
    return [json.loads(line) for line in response.text.splitlines()]


def test_admin_reads_checkpoints_that_verify_with_the_key_served_beside_them(client, admin_token, history):
    response = client.get("/api/audit/checkpoints?limit=100", headers=auth(admin_token))

    assert response.status_code == 200
    data = response.json()["data"]
    assert {c["chain"] for c in data["checkpoints"]} == {"events", "calls"}
    key = load_pem_public_key(data["public_key"].encode())
    for checkpoint in data["checkpoints"]:
        message = checkpoint_message(checkpoint["chain"], checkpoint["position"], checkpoint["hash"],
                                     checkpoint["key_id"], checkpoint["at"])
        key.verify(base64.b64decode(checkpoint["signature"]), message)  # raises if it does not verify
        assert checkpoint["key_id"] == data["key_id"]


def test_checkpoints_page(client, admin_token, history):
    first = client.get("/api/audit/checkpoints?limit=1&chain=calls", headers=auth(admin_token)).json()["data"]

    assert len(first["checkpoints"]) == 1 and first["pagination"]["total"] >= 1
    assert first["checkpoints"][0]["chain"] == "calls"


def test_checkpoints_are_for_admins_only(client, history):
    response = client.get("/api/audit/checkpoints", headers=auth(history["vendor"]["token"]))

    assert response.status_code == 403
    assert response.json()["error_code"] == "FORBIDDEN"


def test_admin_export_holds_every_record_and_verifies_offline(client, admin_token, history, runtime):
    response = client.get("/api/audit/export", headers=auth(admin_token))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = lines_of(response)
    assert lines[0]["export"]["complete"] is True
    records = [line for line in lines if "chain" in line]
    assert len([r for r in records if r["chain"] == "events"]) == runtime.ledger.position()
    assert len([r for r in records if r["chain"] == "calls"]) == 2
    report = verify_export(response.content.splitlines(), None)
    assert report.ok, report
    assert report.chains["events"].checkpoints >= 1


def test_vendor_export_holds_only_their_products_records(client, history):
    vendor, other = history["vendor"], history["other"]

    lines = lines_of(client.get("/api/audit/export", headers=auth(vendor["token"])))

    ids = {line["id"] for line in lines if line.get("chain") == "events"}
    assert vendor["license"]["id"] in ids and vendor["product"]["id"] in ids
    assert other["license"]["id"] not in ids and other["product"]["id"] not in ids
    calls = [line for line in lines if line.get("chain") == "calls"]
    assert [call["id"] for call in calls] == [vendor["license"]["id"]]
    # Check each line still proves itself: its hash is its link over the hash before it
    assert verify_export([json.dumps(line).encode() for line in lines], None).ok


def test_export_of_another_vendors_product_is_not_found(client, history):
    response = client.get(f"/api/audit/export?product_id={history['other']['product']['id']}",
                          headers=auth(history["vendor"]["token"]))

    assert response.status_code == 404
    assert response.json()["error_code"] == "PRODUCT_NOT_FOUND"


@pytest.mark.parametrize("query", ["since=yesterday", "until=2026-13-01", "product_id=nope", "since=0", "until=0.5", "until=",
                                   "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"])
def test_export_refuses_bad_filters(client, history, query):
    response = client.get(f"/api/audit/export?{query}", headers=auth(history["vendor"]["token"]))

    assert response.status_code == 400
    assert response.json()["success"] is False


def test_export_reads_a_page_at_a_time(runtime, history):
    class Counting:
        def __init__(self, source):
            self.source, self.limits = source, []

        def records(self, after, limit):
            self.limits.append(limit)
            return self.source.records(after, limit)

    sources = {name: Counting(source) for name, source in runtime.audit.sources.items()}
    lines = export_lines(runtime.store, sources, ExportScope(), "k", "pem", page=4)

    next(lines), next(lines)
    # Check the first lines come out after one page is read, not the whole log
    assert sources["events"].limits == [4] and sources["calls"].limits == []
    rest = list(lines)
    assert len(rest) > 10
    assert set(sources["events"].limits) == {4} and len(sources["events"].limits) > 3
