"""Importing products and licenses from LicenseCM: ids, secrets and keys kept, line by line, safe to run twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from commands.imports import LicenseImport, LineOutcome, ProductImport
from domain.account import Actor
from domain.client_call import ClientRequest
from domain.license import License, LicenseTerms, LicenseType
from domain.product import ClientCompatibility, Product, SigningAlgorithm

SECRET = "sk_live_" + "a1" * 24
PRODUCT_ID = UUID("3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b")


def product_line(line=1, product_id=PRODUCT_ID, secret=SECRET, name="Legacy App") -> ProductImport:
    return ProductImport(line, product_id, name, "", secret, SigningAlgorithm.RSA, ClientCompatibility.LICENSECM_SDK)


def license_line(line, key, product_id=PRODUCT_ID, status="active", devices=(), max_uses=2, expires_at=None,
                 license_type=LicenseType.SUBSCRIPTION) -> LicenseImport:
    terms = LicenseTerms(license_type=license_type, max_uses=max_uses, expires_at=expires_at, metadata={"plan": "pro"})
    return LicenseImport(line, key, product_id, terms, status, tuple(devices))


@pytest.fixture
def owner(ledger, clock) -> UUID:
    return ledger.register_account("vendor@example.com", "secret123", "Vendor", clock()).id


def outcomes(found: list[LineOutcome]) -> list[tuple[int, str]]:
    return [(line.line, line.outcome) for line in found]


def test_products_and_licenses_keep_their_ids_secrets_keys_devices_and_status(ledger, owner, clock):
    lines = [license_line(2, "ABCD-EFGH-IJKL-MNOP", devices=["pc-1", "pc-2"]),
             license_line(3, "wxyz-1234-5678-90ab", status="suspended")]

    found, _ = ledger.import_records(owner, [product_line()], lines, clock())

    assert outcomes(found) == [(1, "imported"), (2, "imported"), (3, "imported")]
    product = ledger.get_product(Actor(owner), PRODUCT_ID)
    assert ledger.reveal_product_secret(product) == SECRET
    assert product.client_compatibility is ClientCompatibility.LICENSECM_SDK
    assert ledger.find_product_by_secret(SECRET).id == PRODUCT_ID
    bound = ledger.get_license(Actor(owner), License.create_id("ABCD-EFGH-IJKL-MNOP"))
    assert (bound.devices, bound.max_uses, bound.metadata) == (["pc-1", "pc-2"], 2, {"plan": "pro"})
    assert ledger.get_license(Actor(owner), License.create_id("WXYZ-1234-5678-90AB")).is_suspended
    # Check the shipped client's key validates at once on an imported device, without activating anew.
    granted = ledger.validate_license(ClientRequest("ABCD-EFGH-IJKL-MNOP", PRODUCT_ID, "pc-2", None, None, clock()))
    assert granted.product.id == PRODUCT_ID


def test_a_second_run_changes_nothing_and_reports_every_line_present(ledger, owner, clock):
    lines = [license_line(2, "ABCD-EFGH-IJKL-MNOP", devices=["pc-1"])]
    ledger.import_records(owner, [product_line()], lines, clock())
    position = ledger.position()

    found, _ = ledger.import_records(owner, [product_line()], lines, clock())

    assert outcomes(found) == [(1, "present"), (2, "present")]
    assert ledger.position() == position


def test_bad_lines_are_refused_one_by_one_and_write_nothing(ledger, owner, clock):
    other_owner = ledger.register_account("other@example.com", "secret123", "Other", clock()).id
    ledger.import_records(other_owner, [product_line(product_id=uuid4(), secret="sk_live_" + "b2" * 24)], [],
                          clock())
    foreign = ledger.import_records(other_owner, [product_line(product_id=(foreign_id := uuid4()),
                                                               secret="sk_live_" + "c3" * 24)], [], clock())
    assert foreign[0][0].outcome == "imported"
    ledger.import_records(owner, [product_line()], [], clock())
    before = ledger.position()
    past = clock() - timedelta(days=1)
    products = [product_line(1, uuid4(), secret="too-short"),
                product_line(2, uuid4(), secret="sk_live_" + "b2" * 24),  # another product's secret
                product_line(3, uuid4(), secret="sk live with spaces and then some more"),
                product_line(4, foreign_id, secret="sk_live_" + "c3" * 24)]  # exists, another owner's
    licenses = [license_line(5, "not a key"),
                license_line(6, "ABCD-EFGH-IJKL-MNOP", product_id=uuid4()),  # unknown product
                license_line(7, "BCDE-FGHJ-KMNP-QRST", product_id=foreign_id),  # another account's product
                license_line(8, "CDEF-GHJK-MNPQ-RSTV", status="expired", expires_at=clock() + timedelta(days=1)),
                license_line(9, "DEFG-HJKM-NPQR-STVW", status="revoked"),
                license_line(10, "EFGH-JKMN-PQRS-TVWX", license_type=LicenseType.LIFETIME, expires_at=past)]

    found, _ = ledger.import_records(owner, products, licenses, clock())

    assert [line.outcome for line in found] == ["refused"] * 10
    reasons = {line.line: line.reason for line in found}
    assert "32 to 200 printable ASCII" in reasons[1] and "another product's" in reasons[2]
    assert "printable ASCII" in reasons[3] and "another product" in reasons[4]
    assert "malformed" in reasons[5] and reasons[6] == "unknown product" and "another account" in reasons[7]
    assert "in the past" in reasons[8] and "status must be" in reasons[9] and "never expires" in reasons[10]
    assert ledger.position() == before


def test_duplicates_in_one_file_keep_the_first_and_refuse_the_rest(ledger, owner, clock):
    products = [product_line(1), product_line(2, secret="sk_live_" + "d4" * 24), product_line(3, uuid4())]
    licenses = [license_line(4, "ABCD-EFGH-IJKL-MNOP"), license_line(5, "abcd-efgh-ijkl-mnop"),
                license_line(6, "BCDE-FGHJ-KMNP-QRST", devices=["a", "b", "c"]),
                license_line(7, "CDEF-GHJK-MNPQ-RSTV", status="expired")]

    found, _ = ledger.import_records(owner, products, licenses, clock())

    assert outcomes(found) == [(1, "imported"), (2, "refused"), (3, "refused"), (4, "imported"), (5, "refused"),
                               (6, "refused"), (7, "refused")]
    reasons = {line.line: line.reason for line in found}
    assert reasons[2] == "the same id as line 1" and reasons[3] == "the same secret_key as line 1"
    assert reasons[5] == "the same license key as line 4" and "more than max_uses" in reasons[6]
    assert "expires_at in the past" in reasons[7]


def test_an_expired_license_keeps_its_date_and_is_refused_as_expired(ledger, owner, clock):
    lapsed = datetime(2025, 6, 1, tzinfo=timezone.utc)
    ledger.import_records(owner, [product_line()],
                          [license_line(2, "ABCD-EFGH-IJKL-MNOP", status="expired", expires_at=lapsed,
                                        devices=["pc"])], clock())
    from domain.refusals import LicenseExpiredError

    with pytest.raises(LicenseExpiredError):
        ledger.validate_license(ClientRequest("ABCD-EFGH-IJKL-MNOP", PRODUCT_ID, "pc", None, None, clock()))


def test_many_licenses_are_saved_in_chunks_with_one_event_on_their_product_each(ledger, owner, clock):
    keys = [f"K{index:03d}-AAAA-BBBB-CCCC" for index in range(250)]
    found, _ = ledger.import_records(owner, [product_line()],
                                     [license_line(index + 2, key) for index, key in enumerate(keys)], clock())

    assert [line.outcome for line in found].count("imported") == 251
    events = list(ledger.repository.event_store.get(PRODUCT_ID))
    issued = [event.count for event in events if isinstance(event, Product.LicensesIssued)]
    assert issued == [100, 100, 50]
