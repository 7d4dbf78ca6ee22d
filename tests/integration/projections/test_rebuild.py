"""Every read model rebuilt from the store equals the one built incrementally (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.account import Actor
from domain.blacklist import BlacklistType, Severity
from domain.client_call import ClientRequest
from domain.license import LicenseStatus, LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from projections import accounts, license_logs, licenses, products
from tests.integration.conftest import issue, settle, snapshot
from workers.expiry import sweep_blacklist, sweep_sessions
from workers.projector import UnknownReadModelError


@pytest.fixture
def history(runtime, ledger, clock):
    """Two vendors and an admin, with every kind of license, product and session change recorded."""
    admin_id = ledger.register_account("admin@example.com", "secret123", "Admin", clock()).id
    vendor_id = ledger.register_account("vendor@example.com", "secret123", "Vendor", clock()).id
    other_id = ledger.register_account("other@example.com", "secret123", "Other", clock()).id
    ledger.change_account(other_id, None, False, clock())
    ledger.retire_token(vendor_id, "lapses-before-the-next", clock() + timedelta(days=1), clock())
    vendor, other = Actor(vendor_id), Actor(other_id)
    product = ledger.create_product(vendor, "App", "d", SigningAlgorithm.ED25519, clock()).id
    doomed_product = ledger.create_product(other, "Doomed", "", SigningAlgorithm.RSA, clock()).id
    ledger.update_product(vendor, product, clock(), name="App 2", is_active=True)
    ledger.rotate_product_secret(vendor, product, clock())
    license_ids = [issue(ledger, vendor, product, clock(), LicenseType.TRIAL, max_uses=2)]
    license_ids += ledger.issue_licenses(vendor, product, 3, LicenseTerms(max_uses=2, metadata={"b": 1}), clock())[0]
    license_ids.append(issue(ledger, other, doomed_product, clock()))
    key = ledger.get_license(vendor, license_ids[0]).key
    ledger.activate_license(ClientRequest(key, product, "device-a", "203.0.113.9", "ua", clock()))
    key_3 = ledger.get_license(vendor, license_ids[3]).key

    def on_license_3(hwid):
        return ClientRequest(key_3, product, hwid, None, "ua", clock())

    ledger.activate_license(on_license_3("device-b"))
    token = ledger.activate_license(on_license_3("device-c")).session_token
    ledger.keep_session_alive(on_license_3("device-c"), token)
    ledger.deactivate_license(on_license_3("device-b"))
    ledger.update_license(vendor, license_ids[1], clock.advance(hours=1), status=LicenseStatus.SUSPENDED,
                          max_uses=5, metadata={"x": 1}, expires_at=clock() + timedelta(days=2))
    ledger.reset_hwid(vendor, license_ids[0], clock())
    ledger.delete_license(vendor, license_ids[2], clock())
    ledger.delete_product(other, doomed_product, clock())
    ledger.expire_license(license_ids[0], clock.advance(days=15))
    ledger.retire_token(vendor_id, "still-retired", clock() + timedelta(days=1), clock())
    blacklist_history(ledger, admin_id, clock)
    settle(runtime)
    sweep_sessions(ledger, runtime.store, clock())  # ends the three sessions above
    sweep_blacklist(ledger, runtime.store, clock.advance(hours=3))  # expires the two-hour block
    ledger.activate_license(on_license_3("device-d"))  # and one runs on
    settle(runtime)
    return {"admin": Actor(admin_id, True), "vendors": [vendor, other], "licenses": license_ids}


def blacklist_history(ledger, admin_id, clock):
    """Every kind of blacklist change: added (address, network, HWID), re-added, removed, blocked, left to expire."""
    ledger.add_blacklist_entry(BlacklistType.IP, "198.51.100.0/24", "scan", Severity.HIGH, None, admin_id, clock())
    hwid = ledger.add_blacklist_entry(BlacklistType.HWID, "bad-pc", "sharing", Severity.LOW, None, admin_id, clock()).id
    ledger.remove_blacklist_entry(hwid, clock())
    ledger.add_blacklist_entry(BlacklistType.HWID, "bad-pc", "again", Severity.CRITICAL, None, admin_id, clock())
    removed = ledger.add_blacklist_entry(BlacklistType.LICENSE, "AAAA-BBBB", "leak", Severity.LOW, None, None, clock())
    ledger.remove_blacklist_entry(removed.id, clock())
    ledger.block_value(BlacklistType.IP, "203.0.113.50", "guessing", 2, admin_id, clock())


def test_rebuilt_read_models_equal_the_incremental_ones(runtime, history):
    before = snapshot(runtime, history["vendors"], history["licenses"])

    runtime.projector.rebuild()
    settle(runtime)

    assert snapshot(runtime, history["vendors"], history["licenses"]) == before


def test_snapshot_covers_every_model_it_claims(runtime, history):
    # Check the comparison above is not vacuous: each model has rows to compare.
    before = snapshot(runtime, history["vendors"], history["licenses"])

    vendor, other = (str(actor.id) for actor in history["vendors"])
    assert before["accounts"][1]["total"] == 3
    assert (len(before["products"][vendor]), len(before["products"][other])) == (1, 0)
    assert before["licenses"][vendor][1]["total"] == 3
    assert sum(page["total"] for _, page in before["license_logs"].values()) >= 10
    assert set(before["tables"]) >= {"accounts", "products", "licenses", "license_changes", "sessions"}
    assert [dict(row)["jti"] for row in before["tables"]["retired_tokens"]] == ["still-retired"]
    listed, _, active = before["sessions"]
    assert sorted((s["hwid"], s["end_reason"]) for s in listed[0]) == [
        ("device-a", "deactivated"), ("device-b", "deactivated"), ("device-c", "expired"), ("device-d", None)]
    assert active == 1
    blacklist = before["queries"]["projections.blacklist"]
    assert blacklist["list_entries(None)"][1]["total"] == 4
    assert blacklist["count_active_entries(None)"] == 2
    assert {(row["value"], row["end_reason"]) for row in blacklist["list_entries(None)"][0]} == {
        ("198.51.100.0/24", None), ("bad-pc", None), ("AAAA-BBBB", "removed"), ("203.0.113.50", "expired")}


def test_rebuilding_one_read_model_leaves_the_others_and_equals_itself(runtime, history):
    before = snapshot(runtime, history["vendors"], history["licenses"])

    replayed = runtime.projector.rebuild(["licenses"])

    assert replayed > 0
    assert snapshot(runtime, history["vendors"], history["licenses"]) == before


def test_a_rebuild_naming_an_unknown_read_model_is_refused_naming_it(runtime, history):
    # Check a misspelt name among good ones refuses the whole rebuild (it rebuilt the others, silently)
    with pytest.raises(UnknownReadModelError, match="licences; the read models are accounts, products"):
        runtime.projector.rebuild(["licenses", "licences"])


def test_rebuild_after_further_writes_includes_them(runtime, ledger, history, clock):
    vendor = history["vendors"][0]
    runtime.projector.rebuild()
    settle(runtime)

    later = ledger.create_product(vendor, "Later", "", SigningAlgorithm.ED25519, clock()).id
    issue(ledger, vendor, later, clock())
    settle(runtime)
    incremental = snapshot(runtime, history["vendors"], history["licenses"])
    runtime.projector.rebuild()
    settle(runtime)

    assert snapshot(runtime, history["vendors"], history["licenses"]) == incremental
    assert incremental["licenses"][str(vendor.id)][1]["total"] == 4


def test_queries_read_the_rebuilt_tables(runtime, history):
    # Check the rebuilt tables serve the usual queries (not just the snapshot helper).
    runtime.projector.rebuild()
    settle(runtime)
    vendor = history["vendors"][0]

    assert [p["name"] for p in products.list_products(runtime.store, str(vendor.id))] == ["App 2"]
    assert accounts.list_accounts(runtime.store, 1, 10)[1]["total"] == 3
    vendor_id = str(vendor.id)
    assert accounts.get_account_for_token(runtime.store, vendor_id, "still-retired")["token_retired"] is True
    assert accounts.get_account_for_token(runtime.store, vendor_id, "never-retired")["token_retired"] is False
    assert licenses.list_licenses(runtime.store, None, runtime.clock())[1]["total"] == 3
    logs, _ = license_logs.list_license_logs(runtime.store, runtime.ledger.calls.store, str(history["licenses"][0]), 1,
                                             50)
    assert {"created", "hwid_reset", "expired"} <= {log["action"] for log in logs}
