"""Products read model and Product's history: a change recorded by an earlier version still replays."""

from __future__ import annotations

from eventsourcing.persistence import StoredEvent

from domain.product import SigningAlgorithm
from projections import products
from tests.integration.conftest import settle

UPDATED_AS_STORED = (  # Product.Updated, byte for byte as versions before the specific events stored it
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-06-01T12:00:00.000001+00:00"},"name":"Legacy Name",'
    b'"description":"old words","is_active":false,"signing_algorithm":{"_type_":"SigningAlgorithm",'
    b'"_data_":"rsa-4096"},"at":{"_type_":"datetime_iso","_data_":"2026-06-01T12:00:00+00:00"}}'
)


def store_legacy_update(runtime, product_id, version: int) -> None:
    runtime.ledger.recorder.insert_events(
        [StoredEvent(product_id, version, "domain.product:Product.Updated", UPDATED_AS_STORED)])


def test_a_stored_updated_event_still_replays_into_the_product_and_its_read_model(runtime, ledger, vendor,
                                                                                 product_id, clock):
    store_legacy_update(runtime, product_id, version=2)

    # Check the aggregate replays it, and a later change follows it with its specific event.
    product = ledger.get_product(vendor, product_id)
    assert (product.name, product.is_active, product.signing_algorithm) == (
        "Legacy Name", False, SigningAlgorithm.RSA)
    ledger.update_product(vendor, product_id, clock(), is_active=True)
    assert [stored.topic.rsplit(".", 1)[-1] for stored in ledger.recorder.select_events(product_id)][-2:] == [
        "Updated", "Enabled"]

    # Check the read model applied both.
    settle(runtime)
    row = products.get_product(runtime.store, str(product_id), str(vendor.id))
    assert row is not None
    assert (row["name"], row["description"], row["is_active"], row["signing_algorithm"]) == (
        "Legacy Name", "old words", True, "rsa-4096")


def test_each_changed_field_of_a_product_is_its_own_event(runtime, ledger, vendor, product_id, clock):
    ledger.update_product(vendor, product_id, clock(), name="Renamed", description="words", is_active=False,
                          signing_algorithm=SigningAlgorithm.RSA)

    topics = [stored.topic for stored in ledger.recorder.select_events(product_id)][1:]
    assert topics == [f"domain.product:Product.{name}" for name in
                      ("Renamed", "DescriptionChanged", "Disabled", "SigningAlgorithmChanged")]
    settle(runtime)
    row = products.get_product(runtime.store, str(product_id), str(vendor.id))
    assert row is not None
    assert (row["name"], row["description"], row["is_active"], row["signing_algorithm"]) == (
        "Renamed", "words", False, "rsa-4096")


def test_a_product_change_that_changes_nothing_records_nothing(ledger, vendor, product_id, clock):
    position = ledger.position()

    ledger.update_product(vendor, product_id, clock(), name="My App", is_active=True,
                          signing_algorithm=SigningAlgorithm.ED25519)

    assert ledger.position() == position


POLICY_AS_STORED = (  # Product.SecurityPolicyChanged as version 1 stored it: the two environment flags only
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-06-01T12:00:00.000001+00:00"},"block_vm":true,'
    b'"block_debugger":false,"at":{"_type_":"datetime_iso","_data_":"2026-06-01T12:00:00+00:00"}}'
)


def test_a_stored_v1_security_policy_still_replays_and_the_policy_grows_from_it(runtime, ledger, vendor,
                                                                              product_id, clock):
    runtime.ledger.recorder.insert_events(
        [StoredEvent(product_id, 2, "domain.product:Product.SecurityPolicyChanged", POLICY_AS_STORED)])

    # Check the aggregate reads the old flags as the policy's two entries, the rest at their defaults.
    product = ledger.get_product(vendor, product_id)
    assert product.blocks("vm_detected") and not product.blocks("debug_detected")
    assert not product.blocks("hwid_spoof_attempt")

    # Check a later change records only what changed, and the read model shows the whole policy.
    ledger.update_product(vendor, product_id, clock(), security_policy={"vm_detected": "block",
                                                                       "geo_anomaly": "block"})
    last = ledger.recorder.select_events(product_id)[-1]
    assert last.topic.endswith("SecurityPolicyChanged") and b'"actions":{"geo_anomaly":"block"}' in last.state
    settle(runtime)
    row = products.get_product(runtime.store, str(product_id), str(vendor.id))
    assert row is not None and row["block_vm"] is True and row["block_debugger"] is False
    assert row["security_policy"] == {"hwid_spoof_attempt": "record", "ip_mismatch": "record",
                                      "geo_anomaly": "block", "vm_detected": "block", "debug_detected": "record"}
