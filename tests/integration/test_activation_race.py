"""Races on one license: exactly one winner; every loser gets the licensing rule's error code."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from domain.account import Actor
from domain.client_call import ClientRequest
from domain.license import LicenseTerms
from domain.product import SigningAlgorithm
from domain.refusals import ClientRefusedError


def issue(runtime, clock, hwid_locked, max_uses=1):
    owner = runtime.ledger.register_account("race@example.com", "secret123", "Race", clock())
    actor = Actor(owner.id, is_admin=True)
    product = runtime.ledger.create_product(actor, "Race", "", SigningAlgorithm.ED25519, clock())
    terms = LicenseTerms(max_uses=max_uses, hwid_locked=hwid_locked)
    ids, _ = runtime.ledger.issue_licenses(actor, product.id, 1, terms, clock())
    return runtime.ledger.get_license(actor, ids[0]), product.id


def activate_from_many_devices(runtime, clock, license, product_id, devices):
    barrier = Barrier(devices)

    def activate(n):
        barrier.wait()
        request = ClientRequest(license.key, product_id, f"device-{n}", "127.0.0.1", "race", clock())
        try:
            runtime.ledger.activate_license(request)
            return "OK"
        except ClientRefusedError as refusal:
            return refusal.code

    with ThreadPoolExecutor(max_workers=devices) as pool:
        return Counter(pool.map(activate, range(devices)))


@pytest.mark.parametrize("hwid_locked, loser_code", [(True, "HWID_MISMATCH"), (False, "MAX_USES_EXCEEDED")])
def test_fifty_devices_racing_for_one_seat_yield_one_activation(runtime, clock, hwid_locked, loser_code):
    license, product_id = issue(runtime, clock, hwid_locked)
    outcomes = activate_from_many_devices(runtime, clock, license, product_id, 50)

    # Check one winner, 49 losers with the domain's code (never a store conflict or a 500).
    assert outcomes == Counter({"OK": 1, loser_code: 49})
    assert len(runtime.ledger.repository.get(license.id).devices) == 1


def test_racing_devices_fill_a_multi_seat_license_exactly(runtime, clock):
    license, product_id = issue(runtime, clock, hwid_locked=True, max_uses=3)
    outcomes = activate_from_many_devices(runtime, clock, license, product_id, 20)
    assert outcomes == Counter({"OK": 3, "MAX_USES_EXCEEDED": 17})
    assert len(runtime.ledger.repository.get(license.id).devices) == 3
