"""Product aggregate and its secret index: given → when → then, with replayed state."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.product import ClientCompatibility, Product, ProductNotFoundError, ProductSecretIndex, SigningAlgorithm

AT = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
OWNER = UUID("00000000-0000-4000-8000-000000000001")


def created() -> tuple[Product, list[Any]]:
    product = Product(OWNER, "My App", "desc", "sealed-1", uuid4(), SigningAlgorithm.RSA, AT)
    return product, product.collect_events()


def replay(events: list[Any]) -> Product:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def state(aggregate: Product) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def test_created_product_keeps_only_its_sealed_secret():
    product, history = created()

    assert [type(e) for e in history] == [Product.Created]
    assert history[0].sealed_secret == "sealed-1"
    assert not any(isinstance(v, str) and v.startswith("sk_") for v in vars(history[0]).values())
    assert product.is_active and not product.is_deleted
    assert state(replay(history)) == state(product)


def test_update_changes_only_the_given_fields():
    product, history = created()

    product.update(None, None, False, SigningAlgorithm.ED25519, AT)

    events = product.collect_events()
    assert [type(e) for e in events] == [Product.Disabled, Product.SigningAlgorithmChanged]
    assert (product.name, product.is_active, product.signing_algorithm) == ("My App", False, SigningAlgorithm.ED25519)
    assert state(replay(history + events)) == state(product)


def test_each_change_is_recorded_as_what_happened():
    product, history = created()

    product.update("Renamed", "new words", False, None, AT)
    product.update(None, None, True, SigningAlgorithm.ED25519, AT)

    events = product.collect_events()
    assert [type(e) for e in events] == [Product.Renamed, Product.DescriptionChanged, Product.Disabled,
                                         Product.Enabled, Product.SigningAlgorithmChanged]
    assert (events[0].name, events[1].description, events[4].signing_algorithm) == (
        "Renamed", "new words", SigningAlgorithm.ED25519)
    assert state(replay(history + events)) == state(product)


def test_an_update_to_what_the_product_already_is_records_nothing():
    product, _ = created()

    product.update("My App", None, True, SigningAlgorithm.RSA, AT)

    assert product.collect_events() == []


def test_a_legacy_updated_event_still_applies_the_fields_it_gives():
    product, history = created()
    legacy = Product.Updated(originator_id=product.id, originator_version=2, timestamp=AT, name=None,
                             description="words", is_active=False, signing_algorithm=SigningAlgorithm.ED25519, at=AT)

    replayed = replay([*history, legacy])

    assert (replayed.name, replayed.is_active, replayed.signing_algorithm) == ("My App", False,
                                                                                SigningAlgorithm.ED25519)


def test_rotated_secret_replaces_sealed_secret_and_lookup():
    product, history = created()
    new_lookup = uuid4()

    product.rotate_secret("sealed-2", new_lookup, AT)

    events = product.collect_events()
    assert [type(e) for e in events] == [Product.SecretRotated]
    assert (product.sealed_secret, product.secret_lookup_id) == ("sealed-2", new_lookup)
    assert state(replay(history + events)) == state(product)


def test_deleted_product_is_visible_to_no_one():
    product, history = created()

    product.delete(AT)

    events = product.collect_events()
    assert [type(e) for e in events] == [Product.Deleted]
    for actor_id, is_admin in ((OWNER, False), (uuid4(), True)):
        with pytest.raises(ProductNotFoundError):
            product.require_visible_to(actor_id, is_admin)
    assert replay(history + events).is_deleted


def test_another_owners_product_is_not_visible_but_an_admin_sees_it():
    product, _ = created()

    product.require_visible_to(OWNER, is_admin=False)
    product.require_visible_to(uuid4(), is_admin=True)
    with pytest.raises(ProductNotFoundError):
        product.require_visible_to(uuid4(), is_admin=False)


def test_retired_secret_index_remembers_it_is_retired():
    lookup, product_id = uuid4(), uuid4()
    index = ProductSecretIndex(id=lookup, product_id=product_id)
    history = index.collect_events()

    index.retire(AT)

    events = index.collect_events()
    assert [type(e) for e in events] == [ProductSecretIndex.Retired]
    assert (index.id, index.product_id, index.is_retired) == (lookup, product_id, True)
    assert replay(history + events).is_retired is True


def test_client_compatibility_changes_only_when_it_differs():
    product, history = created()

    product.set_client_compatibility(None, AT)
    product.set_client_compatibility(ClientCompatibility.KEYLEDGER, AT)
    assert product.collect_events() == []
    product.set_client_compatibility(ClientCompatibility.LICENSECM_SDK, AT)

    events = product.collect_events()
    assert [type(e) for e in events] == [Product.ClientCompatibilityChanged]
    assert events[0].client_compatibility is ClientCompatibility.LICENSECM_SDK
    assert state(replay(history + events)) == state(product)


def test_imported_product_keeps_the_id_its_clients_embed():
    product_id = uuid4()

    product = Product.imported(product_id, OWNER, "Old App", "", "sealed-1", uuid4(), SigningAlgorithm.RSA, AT)

    events = product.collect_events()
    assert [type(e) for e in events] == [Product.Created]
    assert events[0].originator_id == product.id == product_id
    assert state(replay(events)) == state(product)


def test_a_product_snapshot_from_before_the_client_protocol_setting_answers_in_keyledgers():
    from eventsourcing.domain import Snapshot

    product, _ = created()
    snapshot = Snapshot.take(product)
    v1_state = {name: value for name, value in snapshot.state.items()
                if name not in ("client_compatibility", "class_version")}
    old_snapshot = Snapshot(originator_id=snapshot.originator_id, originator_version=snapshot.originator_version,
                            timestamp=snapshot.timestamp, topic=snapshot.topic, state=v1_state)

    restored = old_snapshot.mutate(None)

    # Check the v1 snapshot is upcast to the default, and the setting can change from there.
    assert restored.client_compatibility is ClientCompatibility.KEYLEDGER
    restored.set_client_compatibility(ClientCompatibility.LICENSECM_SDK, AT)
    assert restored.client_compatibility is ClientCompatibility.LICENSECM_SDK
