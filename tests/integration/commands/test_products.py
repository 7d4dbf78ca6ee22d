"""Product commands on SQLite and PostgreSQL: tenancy, secret rotation, deletion."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.product import ProductNotFoundError, SigningAlgorithm


def test_created_product_belongs_to_its_vendor(ledger, vendor, clock):
    receipt = ledger.create_product(vendor, "My App", "desc", SigningAlgorithm.RSA, clock())

    product = ledger.get_product(vendor, receipt.id)

    assert (product.owner_id, product.name, product.signing_algorithm) == (vendor.id, "My App", SigningAlgorithm.RSA)
    assert ledger.reveal_product_secret(product).startswith("sk_")


def test_secret_is_sealed_in_the_aggregate(ledger, vendor, product_id):
    product = ledger.get_product(vendor, product_id)

    assert ledger.reveal_product_secret(product) not in product.sealed_secret


def test_another_vendors_product_is_not_found_but_an_admin_sees_it(ledger, product_id, other_vendor, admin, clock):
    with pytest.raises(ProductNotFoundError):
        ledger.get_product(other_vendor, product_id)
    with pytest.raises(ProductNotFoundError):
        ledger.update_product(other_vendor, product_id, clock(), name="Hijacked")

    assert ledger.get_product(admin, product_id).name == "My App"


def test_unknown_product_is_not_found(ledger, vendor):
    with pytest.raises(ProductNotFoundError):
        ledger.get_product(vendor, uuid4())


def test_update_changes_only_the_given_fields(ledger, vendor, product_id, clock):
    ledger.update_product(vendor, product_id, clock(), is_active=False)

    product = ledger.get_product(vendor, product_id)
    assert (product.name, product.is_active) == ("My App", False)


def test_find_product_by_secret_finds_the_current_secret(ledger, vendor, product_id):
    secret = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))

    assert ledger.find_product_by_secret(secret).id == product_id


def test_rotated_secret_replaces_the_old_one_at_once(ledger, vendor, product_id, clock):
    old_secret = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))

    ledger.rotate_product_secret(vendor, product_id, clock())

    new_secret = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))
    assert new_secret != old_secret
    assert ledger.find_product_by_secret(new_secret).id == product_id
    with pytest.raises(ProductNotFoundError):
        ledger.find_product_by_secret(old_secret)


def test_rotating_twice_leaves_only_the_latest_secret(ledger, vendor, product_id, clock):
    first = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))
    ledger.rotate_product_secret(vendor, product_id, clock())
    second = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))
    ledger.rotate_product_secret(vendor, product_id, clock.advance(seconds=1))
    third = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))

    assert ledger.find_product_by_secret(third).id == product_id
    for retired in (first, second):
        with pytest.raises(ProductNotFoundError):
            ledger.find_product_by_secret(retired)


def test_unknown_secret_is_not_found(ledger, product_id):
    with pytest.raises(ProductNotFoundError):
        ledger.find_product_by_secret("sk_live_not-a-real-secret")


def test_deleted_product_is_gone_and_its_secret_unknown(ledger, vendor, admin, product_id, clock):
    secret = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))

    ledger.delete_product(vendor, product_id, clock())

    with pytest.raises(ProductNotFoundError):
        ledger.find_product_by_secret(secret)
    for actor in (vendor, admin):
        with pytest.raises(ProductNotFoundError):
            ledger.get_product(actor, product_id)
    with pytest.raises(ProductNotFoundError):
        ledger.delete_product(vendor, product_id, clock())


def test_another_vendor_cannot_rotate_or_delete(ledger, vendor, other_vendor, product_id, clock):
    secret = ledger.reveal_product_secret(ledger.get_product(vendor, product_id))

    for command in (ledger.rotate_product_secret, ledger.delete_product):
        with pytest.raises(ProductNotFoundError):
            command(other_vendor, product_id, clock())

    assert ledger.find_product_by_secret(secret).id == product_id
