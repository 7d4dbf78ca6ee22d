"""Licenses read model on SQLite and PostgreSQL: filters, status at `now`, pagination, tenancy, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.client_call import ClientRequest
from domain.license import LicenseNotFoundError, LicenseStatus, LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from projections import licenses
from tests.integration.conftest import issue, settle


def listed(runtime, owner, **filters):
    rows, _ = licenses.list_licenses(runtime.store, owner and str(owner.id), runtime.clock(), limit=100, **filters)
    return {row["id"] for row in rows}


def ids(*license_ids):
    return {str(license_id) for license_id in license_ids}


def test_issued_license_appears_with_its_terms(runtime, ledger, vendor, product_id, clock):
    expires_at = clock() + timedelta(days=30)
    license_id = issue(ledger, vendor, product_id, clock(), max_uses=3, expires_at=expires_at, metadata={"a": [1]})
    settle(runtime)

    row = licenses.get_license(runtime.store, str(license_id), str(vendor.id), clock())

    key = ledger.get_license(vendor, license_id).key
    assert (row["license_key"], row["product_id"], row["type"], row["status"]) == (
        key, str(product_id), "subscription", "active")
    assert (row["max_uses"], row["current_uses"], row["devices"], row["metadata"]) == (3, 0, [], {"a": [1]})
    assert row["expires_at"].startswith(expires_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_list_filters_by_product(runtime, ledger, vendor, product_id, clock):
    other_product = ledger.create_product(vendor, "Other", "", SigningAlgorithm.ED25519, clock()).id
    mine = [issue(ledger, vendor, product_id, clock()) for _ in range(2)]
    theirs = issue(ledger, vendor, other_product, clock())
    settle(runtime)

    assert listed(runtime, vendor, product_id=str(product_id)) == ids(*mine)
    assert listed(runtime, vendor, product_id=str(other_product)) == ids(theirs)
    assert listed(runtime, vendor) == ids(*mine, theirs)


def test_list_filters_by_type(runtime, ledger, vendor, product_id, clock):
    trial = issue(ledger, vendor, product_id, clock(), LicenseType.TRIAL)
    lifetime = issue(ledger, vendor, product_id, clock(), LicenseType.LIFETIME)
    settle(runtime)

    assert listed(runtime, vendor, license_type="trial") == ids(trial)
    assert listed(runtime, vendor, license_type="lifetime") == ids(lifetime)


def test_status_is_computed_at_now(runtime, ledger, vendor, product_id, clock):
    short = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(days=1))
    long = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(days=10))
    forever = issue(ledger, vendor, product_id, clock(), LicenseType.LIFETIME)
    suspended = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(hours=1))
    ledger.update_license(vendor, suspended, clock(), status=LicenseStatus.SUSPENDED)
    settle(runtime)

    assert listed(runtime, vendor, status=LicenseStatus.ACTIVE) == ids(short, long, forever)
    assert listed(runtime, vendor, status=LicenseStatus.EXPIRED) == set()

    clock.advance(days=1)  # `short` lapses at exactly this instant; `suspended` stays suspended

    assert listed(runtime, vendor, status=LicenseStatus.ACTIVE) == ids(long, forever)
    assert listed(runtime, vendor, status=LicenseStatus.EXPIRED) == ids(short)
    assert listed(runtime, vendor, status=LicenseStatus.SUSPENDED) == ids(suspended)
    row = licenses.get_license(runtime.store, str(short), None, clock())
    assert row["status"] == "expired"


def test_reinstated_and_extended_licenses_are_active_again(runtime, ledger, vendor, product_id, clock):
    license_id = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(days=1))
    ledger.update_license(vendor, license_id, clock(), status=LicenseStatus.SUSPENDED)
    clock.advance(days=2)

    ledger.update_license(vendor, license_id, clock(), status=LicenseStatus.ACTIVE,
                          expires_at=clock() + timedelta(days=30))
    settle(runtime)

    assert listed(runtime, vendor, status=LicenseStatus.ACTIVE) == ids(license_id)


def test_pagination_counts_every_match_and_splits_them_without_overlap(runtime, ledger, vendor, product_id, clock):
    ledger.issue_licenses(vendor, product_id, 7, LicenseTerms(), clock())
    settle(runtime)

    pages = [licenses.list_licenses(runtime.store, str(vendor.id), clock(), page=page, limit=3) for page in (1, 2, 3)]

    assert [len(rows) for rows, _ in pages] == [3, 3, 1]
    assert [meta for _, meta in pages] == [{"page": p, "limit": 3, "total": 7, "pages": 3} for p in (1, 2, 3)]
    assert len({row["id"] for rows, _ in pages for row in rows}) == 7
    beyond, meta = licenses.list_licenses(runtime.store, str(vendor.id), clock(), page=4, limit=3)
    assert (beyond, meta["total"]) == ([], 7)


def test_list_is_newest_first(runtime, ledger, vendor, product_id, clock):
    first = issue(ledger, vendor, product_id, clock())
    second = issue(ledger, vendor, product_id, clock())  # same instant: the log order decides
    third = issue(ledger, vendor, product_id, clock.advance(seconds=1))
    settle(runtime)

    rows, _ = licenses.list_licenses(runtime.store, str(vendor.id), clock())

    assert [row["id"] for row in rows] == [str(third), str(second), str(first)]


def test_vendors_see_only_their_own_licenses_and_admins_all(runtime, ledger, vendor, other_vendor, product_id, clock):
    other_product = ledger.create_product(other_vendor, "Theirs", "", SigningAlgorithm.ED25519, clock()).id
    mine = issue(ledger, vendor, product_id, clock())
    theirs = issue(ledger, other_vendor, other_product, clock())
    settle(runtime)

    assert listed(runtime, vendor) == ids(mine)
    assert listed(runtime, other_vendor) == ids(theirs)
    assert listed(runtime, None) == ids(mine, theirs)
    # Check a filter on another vendor's product yields nothing rather than their licenses.
    assert listed(runtime, vendor, product_id=str(other_product)) == set()
    assert licenses.get_license(runtime.store, str(theirs), str(vendor.id), clock()) is None
    assert licenses.get_license(runtime.store, str(theirs), None, clock())["id"] == str(theirs)


def test_updates_show_in_the_row(runtime, ledger, vendor, product_id, clock):
    license_id = issue(ledger, vendor, product_id, clock())

    ledger.update_license(vendor, license_id, clock.advance(minutes=5), max_uses=4, hwid_locked=False,
                          metadata={"plan": "team"}, expires_at=clock() + timedelta(days=3))
    settle(runtime)

    row = licenses.get_license(runtime.store, str(license_id), str(vendor.id), clock())
    assert (row["max_uses"], row["hwid_locked"], row["metadata"]) == (4, False, {"plan": "team"})
    assert row["expires_at"].startswith((clock() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S"))
    assert row["updated_at"] > row["created_at"]


def test_activations_and_hwid_reset_show_in_current_uses(runtime, ledger, vendor, product_id, clock):
    license_id = issue(ledger, vendor, product_id, clock(), max_uses=2)
    key = ledger.get_license(vendor, license_id).key
    for hwid in ("device-a", "device-b"):
        ledger.activate_license(ClientRequest(key, product_id, hwid, "203.0.113.9", "test", clock()))
    settle(runtime)

    row = licenses.get_license(runtime.store, str(license_id), str(vendor.id), clock())
    assert (row["current_uses"], row["devices"], row["hwid"]) == (2, ["device-a", "device-b"], "device-a")

    ledger.reset_hwid(vendor, license_id, clock())
    settle(runtime)

    row = licenses.get_license(runtime.store, str(license_id), str(vendor.id), clock())
    assert (row["current_uses"], row["devices"]) == (0, [])


def test_deleted_license_disappears_and_never_reappears(runtime, ledger, vendor, product_id, clock):
    license_id = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(days=1))
    kept = issue(ledger, vendor, product_id, clock())

    ledger.delete_license(vendor, license_id, clock())
    settle(runtime)
    assert listed(runtime, vendor) == listed(runtime, None) == ids(kept)

    # Check nothing that happens afterwards brings it back: a sweep, a rebuild.
    ledger.expire_license(license_id, clock.advance(days=2))
    runtime.projector.rebuild()
    settle(runtime)
    assert listed(runtime, vendor) == ids(kept)
    assert licenses.get_license(runtime.store, str(license_id), None, clock()) is None
    assert licenses.get_licenses(runtime.store, [str(license_id), str(kept)], clock())[0]["id"] == str(kept)


def test_deleting_a_product_removes_its_licenses_from_the_list(runtime, ledger, vendor, product_id, clock):
    other_product = ledger.create_product(vendor, "Other", "", SigningAlgorithm.ED25519, clock()).id
    doomed = [issue(ledger, vendor, product_id, clock()) for _ in range(3)]
    kept = issue(ledger, vendor, other_product, clock())

    ledger.delete_product(vendor, product_id, clock())
    # Check a license of the deleted product is gone for commands too: nothing can bring its row back.
    with pytest.raises(LicenseNotFoundError):
        ledger.update_license(vendor, doomed[0], clock(), metadata={"after": "deletion"})
    settle(runtime)

    assert listed(runtime, vendor) == listed(runtime, None) == ids(kept)
    assert listed(runtime, vendor, product_id=str(product_id)) == set()
    assert all(licenses.get_license(runtime.store, str(i), None, clock()) is None for i in doomed)
