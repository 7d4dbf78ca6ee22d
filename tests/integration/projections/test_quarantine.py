"""An event a read model cannot apply: retried, then passed over and kept aside, never a stalled projector.

A read model that fails on one event every time would otherwise stop at it for every tenant,
and every vendor write would then wait for it in vain (503 READ_MODELS_BEHIND).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.account import Actor
from domain.product import SigningAlgorithm
from keyledger.settings import Settings
from keyledger.wiring import Runtime, build_runtime
from projections import products
from workers.projector import QUARANTINE_AFTER


@pytest.fixture
def still(settings: Settings, clock: Any) -> Iterator[Runtime]:
    """A runtime whose projector moves only when the test calls `catch_up`."""
    runtime = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    yield runtime
    runtime.close()


def poison_product_names(runtime: Runtime, failures: dict[str, int]) -> None:
    """Make the products read model fail on every product named in `failures`, that many times (-1: always)."""
    projection = next(p for p in runtime.projector.projections if p.name == "products")
    apply = projection.apply

    def failing(cursor: Any, event: Any) -> None:
        name = getattr(event, "name", None)
        if failures.get(name, 0) != 0:
            failures[name] -= 1
            raise ValueError(f"cannot take {name}")
        apply(cursor, event)

    projection.apply = failing  # type: ignore[method-assign]


def names(runtime: Runtime, vendor: Actor) -> list[str]:
    return sorted(row["name"] for row in products.list_products(runtime.store, str(vendor.id)))


def test_an_event_failing_every_time_is_passed_over_and_the_others_land(still: Runtime, clock: Any) -> None:
    vendor = Actor(still.ledger.register_account("v@example.com", "secret123", "V", clock()).id)
    poison_product_names(still, {"poison": -1})
    for name in ("before", "poison", "after"):
        still.ledger.create_product(vendor, name, "", SigningAlgorithm.ED25519, clock())

    for _ in range(QUARANTINE_AFTER - 1):
        with pytest.raises(ValueError, match="cannot take poison"):
            still.projector.catch_up()
        assert names(still, vendor) == ["before"]  # what came before the failing event landed
    still.projector.catch_up()

    assert names(still, vendor) == ["after", "before"]
    [passed_over] = still.projector.quarantined()["products"]
    assert passed_over["topic"].endswith("Product.Created") and "cannot take poison" in passed_over["error"]
    still.projector.wait(still.ledger.position(), timeout=1)  # every read model is at the head again


def test_a_failure_that_clears_on_a_retry_passes_nothing_over(still: Runtime, clock: Any) -> None:
    vendor = Actor(still.ledger.register_account("v@example.com", "secret123", "V", clock()).id)
    poison_product_names(still, {"flaky": QUARANTINE_AFTER - 1})
    still.ledger.create_product(vendor, "flaky", "", SigningAlgorithm.ED25519, clock())

    raised = 0
    for _ in range(2 * QUARANTINE_AFTER):  # as run_forever would: retry until a round goes through
        try:
            still.projector.catch_up()
            break
        except ValueError:
            raised += 1

    assert 0 < raised < QUARANTINE_AFTER
    assert names(still, vendor) == ["flaky"]
    assert still.projector.quarantined() == {}


def test_a_rebuild_applies_what_was_passed_over_once_the_model_can_take_it(still: Runtime, clock: Any) -> None:
    vendor = Actor(still.ledger.register_account("v@example.com", "secret123", "V", clock()).id)
    failures = {"poison": -1}
    poison_product_names(still, failures)
    still.ledger.create_product(vendor, "poison", "", SigningAlgorithm.ED25519, clock())
    for _ in range(QUARANTINE_AFTER - 1):
        with pytest.raises(ValueError):
            still.projector.catch_up()
    still.projector.catch_up()
    assert names(still, vendor) == []

    failures["poison"] = 0  # the fix is deployed
    still.projector.rebuild(["products"])

    assert names(still, vendor) == ["poison"]
    assert still.projector.quarantined() == {}
