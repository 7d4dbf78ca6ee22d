"""License commands on SQLite and PostgreSQL: issue, bulk, tenancy, updates, deletion, races."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from domain.client_call import ClientRequest
from domain.errors import InvalidValueError
from domain.ids import is_well_formed_license_key, license_id_for_key
from domain.license import (
    KEEP,
    LicenseNotFoundError,
    LicenseStatus,
    LicenseTerms,
    LicenseType,
    MaxUsesBelowActivationsError,
)
from domain.product import ProductNotFoundError, SigningAlgorithm
from projections import licenses
from tests.integration.conftest import issue, race, settle


class TestIssueLicense:
    def test_issued_license_carries_its_terms(self, ledger, vendor, product_id, clock):
        expires_at = clock() + timedelta(days=30)

        license_id = issue(ledger, vendor, product_id, clock(), max_uses=3, expires_at=expires_at,
                           metadata={"plan": "pro"})

        license = ledger.get_license(vendor, license_id)
        assert (license.product_id, license.owner_id, license.max_uses) == (product_id, vendor.id, 3)
        assert (license.expires_at, license.metadata) == (expires_at, {"plan": "pro"})
        assert is_well_formed_license_key(license.key)
        assert license_id == license_id_for_key(license.key) == license_id_for_key(license.key.lower())

    def test_trial_without_expiry_runs_fourteen_days(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock(), LicenseType.TRIAL)

        assert ledger.get_license(vendor, license_id).expires_at == clock() + timedelta(days=14)

    def test_lifetime_license_with_expiry_is_refused_and_writes_nothing(self, ledger, vendor, product_id, clock):
        position = ledger.position()

        with pytest.raises(InvalidValueError):
            issue(ledger, vendor, product_id, clock(), LicenseType.LIFETIME, expires_at=clock() + timedelta(days=1))

        assert ledger.position() == position

    def test_zero_max_uses_is_refused(self, ledger, vendor, product_id, clock):
        with pytest.raises(InvalidValueError):
            issue(ledger, vendor, product_id, clock(), max_uses=0)

    def test_license_for_another_vendors_product_is_refused(self, ledger, other_vendor, product_id, clock):
        position = ledger.position()

        with pytest.raises(ProductNotFoundError):
            issue(ledger, other_vendor, product_id, clock())

        assert ledger.position() == position

    def test_admin_issues_on_behalf_of_the_products_owner(self, ledger, vendor, admin, product_id, clock):
        license_id = issue(ledger, admin, product_id, clock())

        assert ledger.get_license(vendor, license_id).owner_id == vendor.id

    def test_license_for_unknown_or_deleted_product_is_refused(self, ledger, vendor, product_id, clock):
        with pytest.raises(ProductNotFoundError):
            issue(ledger, vendor, uuid4(), clock())
        ledger.delete_product(vendor, product_id, clock())
        with pytest.raises(ProductNotFoundError):
            issue(ledger, vendor, product_id, clock())

    def test_racing_issue_and_product_deletion_have_one_winner(self, runtime, ledger, vendor, clock):
        for _ in range(8):  # the losing interleaving shows up in most rounds; 8 make a miss negligible
            product_id = ledger.create_product(vendor, "Doomed", "", SigningAlgorithm.ED25519, clock()).id

            issued, deleted = race(
                lambda: ledger.issue_licenses(vendor, product_id, 100, LicenseTerms(license_type=LicenseType.TRIAL),
                                              clock()),
                lambda: ledger.delete_product(vendor, product_id, clock()),
            )

            assert deleted[0] == "ok", deleted
            # Check the issue either lost (the product was gone) or happened wholly before the deletion.
            if issued[0] == "ok":
                assert issued[1][1] < deleted[1].position, "licenses issued after their product was deleted"
            else:
                assert isinstance(issued[1], ProductNotFoundError), issued
            settle(runtime)
            listed = licenses.list_licenses(runtime.store, str(vendor.id), clock(), product_id=str(product_id))
            assert listed[1]["total"] == 0


class TestIssueLicenses:
    def test_racing_bulk_issues_for_one_product_all_land(self, runtime, ledger, vendor, product_id, clock):
        trial = LicenseTerms(license_type=LicenseType.TRIAL)
        outcomes = race(*(lambda: ledger.issue_licenses(vendor, product_id, 25, trial, clock()) for _ in range(8)))

        # Check none lost to the others (each records an event on the same product), and every key was kept.
        assert [outcome for outcome, _ in outcomes] == ["ok"] * 8, outcomes
        settle(runtime)
        listed = licenses.list_licenses(runtime.store, str(vendor.id), clock(), product_id=str(product_id))
        assert listed[1]["total"] == 200

    def test_bulk_of_one_hundred_gives_distinct_well_formed_keys(self, ledger, vendor, product_id, clock):
        ids, position = ledger.issue_licenses(vendor, product_id, 100, LicenseTerms(), clock())

        issued = [ledger.get_license(vendor, license_id) for license_id in ids]
        keys = {license.key for license in issued}
        assert len(ids) == len(set(ids)) == len(keys) == 100
        assert all(is_well_formed_license_key(key) for key in keys)
        assert all(license.id == license_id_for_key(license.key) for license in issued)
        # Check the hundred were one atomic save: the position is the last of them.
        assert position == ledger.position()

    @pytest.mark.parametrize("count", [101, 0])
    def test_bulk_outside_one_to_one_hundred_is_refused_and_writes_nothing(self, ledger, vendor, product_id, clock,
                                                                          count):
        position = ledger.position()

        with pytest.raises(InvalidValueError):
            ledger.issue_licenses(vendor, product_id, count, LicenseTerms(), clock())

        assert ledger.position() == position

    def test_bulk_for_another_vendors_product_writes_nothing(self, ledger, other_vendor, product_id, clock):
        position = ledger.position()

        with pytest.raises(ProductNotFoundError):
            ledger.issue_licenses(other_vendor, product_id, 5, LicenseTerms(license_type=LicenseType.TRIAL), clock())

        assert ledger.position() == position


class TestUpdateLicense:
    def test_another_vendors_license_is_not_found_but_an_admin_sees_it(self, ledger, vendor, other_vendor, admin,
                                                                       product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())

        with pytest.raises(LicenseNotFoundError):
            ledger.get_license(other_vendor, license_id)
        with pytest.raises(LicenseNotFoundError):
            ledger.update_license(other_vendor, license_id, clock(), status=LicenseStatus.SUSPENDED)
        assert ledger.get_license(admin, license_id).is_suspended is False

    def test_suspend_and_reinstate(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())

        ledger.update_license(vendor, license_id, clock(), status=LicenseStatus.SUSPENDED)
        assert ledger.get_license(vendor, license_id).status_at(clock()) is LicenseStatus.SUSPENDED

        ledger.update_license(vendor, license_id, clock(), status=LicenseStatus.ACTIVE)
        assert ledger.get_license(vendor, license_id).status_at(clock()) is LicenseStatus.ACTIVE

    def test_expiry_is_kept_unless_given_and_cleared_by_none(self, ledger, vendor, product_id, clock):
        expires_at = clock() + timedelta(days=30)
        license_id = issue(ledger, vendor, product_id, clock(), expires_at=expires_at)

        ledger.update_license(vendor, license_id, clock(), max_uses=3)
        assert ledger.get_license(vendor, license_id).expires_at == expires_at
        ledger.update_license(vendor, license_id, clock(), max_uses=3, expires_at=KEEP)
        assert ledger.get_license(vendor, license_id).expires_at == expires_at

        ledger.update_license(vendor, license_id, clock(), expires_at=None)
        assert ledger.get_license(vendor, license_id).expires_at is None

    def test_one_update_records_each_given_field(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())

        ledger.update_license(vendor, license_id, clock(), status=LicenseStatus.SUSPENDED, max_uses=4,
                              hwid_locked=False, expires_at=clock() + timedelta(days=1), metadata={"a": 1})

        license = ledger.get_license(vendor, license_id)
        assert (license.is_suspended, license.max_uses, license.hwid_locked, license.metadata) == (True, 4, False,
                                                                                                   {"a": 1})
        assert license.version == 5

    def test_an_invalid_field_refuses_the_whole_update(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock(), LicenseType.LIFETIME)

        with pytest.raises(InvalidValueError):
            ledger.update_license(vendor, license_id, clock(), metadata={"a": 1}, expires_at=clock())

        license = ledger.get_license(vendor, license_id)
        assert (license.version, license.metadata, license.expires_at) == (1, {}, None)

    def test_max_uses_cannot_drop_below_activated_devices(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock(), max_uses=2)
        key = ledger.get_license(vendor, license_id).key
        for hwid in ("device-a", "device-b"):
            ledger.activate_license(ClientRequest(key, product_id, hwid, "203.0.113.9", "test", clock()))

        with pytest.raises(MaxUsesBelowActivationsError):
            ledger.update_license(vendor, license_id, clock(), max_uses=1)

        assert ledger.get_license(vendor, license_id).max_uses == 2

    def test_racing_updates_of_one_license_both_land(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())
        rounds = 8

        def change_metadata():
            for i in range(1, rounds + 1):
                ledger.update_license(vendor, license_id, clock(), metadata={"round": i})

        def change_max_uses():
            for i in range(2, rounds + 2):
                ledger.update_license(vendor, license_id, clock(), max_uses=i)

        outcomes = race(change_metadata, change_max_uses)

        assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
        license = ledger.get_license(vendor, license_id)
        assert (license.metadata, license.max_uses) == ({"round": rounds}, rounds + 1)
        # Check no update was lost: one event per call after the Issued event.
        assert license.version == 1 + 2 * rounds


class TestResetAndDelete:
    def test_reset_hwid_frees_every_device(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock(), max_uses=2)
        key = ledger.get_license(vendor, license_id).key
        ledger.activate_license(ClientRequest(key, product_id, "device-a", None, None, clock()))

        ledger.reset_hwid(vendor, license_id, clock())

        assert ledger.get_license(vendor, license_id).devices == []

    def test_another_vendor_cannot_reset_or_delete(self, ledger, vendor, other_vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())

        for command in (ledger.reset_hwid, ledger.delete_license):
            with pytest.raises(LicenseNotFoundError):
                command(other_vendor, license_id, clock())

        assert ledger.get_license(vendor, license_id).version == 1

    def test_license_of_a_deleted_product_is_not_found(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())
        ledger.delete_product(vendor, product_id, clock())
        position = ledger.position()

        with pytest.raises(LicenseNotFoundError):
            ledger.update_license(vendor, license_id, clock(), metadata={"after": "deletion"})
        with pytest.raises(LicenseNotFoundError):
            ledger.reset_hwid(vendor, license_id, clock())

        assert ledger.position() == position

    def test_deleted_license_is_not_found_for_anyone(self, ledger, vendor, admin, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock())

        ledger.delete_license(vendor, license_id, clock())

        for actor in (vendor, admin):
            with pytest.raises(LicenseNotFoundError):
                ledger.get_license(actor, license_id)
        with pytest.raises(LicenseNotFoundError):
            ledger.update_license(vendor, license_id, clock(), status=LicenseStatus.ACTIVE)

    def test_unknown_license_is_not_found(self, ledger, vendor, product_id):
        with pytest.raises(LicenseNotFoundError):
            ledger.get_license(vendor, uuid4())
        with pytest.raises(LicenseNotFoundError):
            ledger.get_license(vendor, product_id)  # an id of another kind of aggregate


class TestExpireLicense:
    def test_expiry_is_recorded_once_after_it_passes(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(days=1))

        assert ledger.expire_license(license_id, clock()) is None
        clock.advance(days=2)
        assert isinstance(ledger.expire_license(license_id, clock()), int)
        assert ledger.expire_license(license_id, clock()) is None

        assert ledger.get_license(vendor, license_id).expiry_recorded is True

    def test_deleted_license_never_expires(self, ledger, vendor, product_id, clock):
        license_id = issue(ledger, vendor, product_id, clock(), expires_at=clock() + timedelta(days=1))
        ledger.delete_license(vendor, license_id, clock())

        assert ledger.expire_license(license_id, clock.advance(days=2)) is None
