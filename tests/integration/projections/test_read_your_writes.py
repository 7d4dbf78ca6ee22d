"""Read-your-writes waits for the read models an answer reads, within one deadline."""

from __future__ import annotations

import time

import pytest

from domain.product import SigningAlgorithm
from projections.base import ReadModelsBehindError
from workers.projector import Projector


@pytest.fixture
def stalled(runtime, vendor, clock):
    """A product recorded that only the products read model has seen."""
    runtime.projector.stop()
    position = runtime.ledger.create_product(vendor, "Late", "", SigningAlgorithm.ED25519, clock()).position
    only_products = [projection for projection in runtime.projector.projections if projection.name == "products"]
    Projector(runtime.ledger, only_products).catch_up()
    return position


def test_a_write_waits_only_for_the_read_models_named(runtime, stalled):
    runtime.wait_for(stalled, ("products",), timeout=5.0)

    # Check a model that has not seen the write still counts as behind.
    with pytest.raises(ReadModelsBehindError) as behind:
        runtime.wait_for(stalled, ("products", "licenses"), timeout=0.1)
    assert behind.value.position == stalled and behind.value.unreachable is False


def test_every_read_model_behind_shares_one_deadline(runtime, stalled):
    started = time.monotonic()

    with pytest.raises(ReadModelsBehindError):
        runtime.wait_for(stalled, timeout=0.3)

    # Check six lagging read models gave up together, not one full timeout after another (1.8 s).
    assert time.monotonic() - started < 1.2


def test_a_misspelt_read_model_is_refused(runtime, stalled):
    with pytest.raises(ValueError, match="licences"):
        runtime.wait_for(stalled, ("licences",))
