"""Several processes extend one chain: each record is linked exactly once, and the chain verifies."""

from __future__ import annotations

import threading

import pytest

from domain.audit import CALLS, EVENTS
from keyledger.wiring import build_runtime
from projections.audit_chain import chain_head
from tests.integration.audit.conftest import make_history
from workers.audit import verify_chain

pytestmark = pytest.mark.usefixtures("backend")


def test_two_keepers_link_each_record_once(runtime, settings, clock):
    other = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    errors = []

    def keep(runtime):
        try:
            runtime.audit.keeper.catch_up()
        except Exception as error:  # a keeper that fails would leave the others to link everything
            errors.append(error)

    try:
        for _ in range(3):
            make_history(runtime, clock, licenses=5, calls=10, link=False)
            keepers = [threading.Thread(target=keep, args=(r,)) for r in (runtime, other, runtime, other)]
            for keeper in keepers:
                keeper.start()
            for keeper in keepers:
                keeper.join()
    finally:
        other.close()

    assert errors == []
    for chain in (EVENTS, CALLS):
        report = verify_chain(runtime.store, chain, runtime.audit.sources[chain], runtime.audit.public_keys())
        assert report.ok, report
        links = runtime.store.query("SELECT COUNT(*) AS n FROM audit_links WHERE chain = ?", (chain,))[0]["n"]
        assert links == report.records >= 30
    assert chain_head(runtime.store, CALLS) == 30

