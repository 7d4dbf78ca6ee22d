"""The audit chain catches every kind of tampering with stored rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from domain.audit import CALLS, EVENTS
from projections.audit_chain import list_checkpoints
from tests.integration.audit.conftest import Rows, make_history
from workers.audit import verify_chain

pytestmark = pytest.mark.usefixtures("backend")


def verify(runtime, chain):
    return verify_chain(runtime.store, chain, runtime.audit.sources[chain], runtime.audit.public_keys())


def test_untouched_history_verifies_with_signed_checkpoints(runtime, clock):
    make_history(runtime, clock)

    for chain in (EVENTS, CALLS):
        report = verify(runtime, chain)
        # Check every record was linked and checkpoints were signed along the way
        assert report.ok, (report.breaks, report.bad_signatures)
        assert report.records >= 6
        assert report.checkpoints >= 2


def test_chain_links_only_new_records_when_caught_up_again(runtime, clock):
    make_history(runtime, clock)
    assert runtime.audit.keeper.catch_up() == 0

    make_history(runtime, clock, licenses=1, calls=1)

    assert verify(runtime, EVENTS).ok and verify(runtime, CALLS).ok


@pytest.mark.parametrize("chain", [EVENTS, CALLS])
@pytest.mark.parametrize(("tamper", "kind"), [
    (lambda rows: rows.change(3), "changed"),
    (lambda rows: rows.remove(3), "removed"),
    (lambda rows: rows.insert(3), "inserted"),
    (lambda rows: rows.swap(3, 4), "reordered"),
])
def test_tampered_row_is_named_at_its_position(runtime, clock, chain, tamper, kind):
    make_history(runtime, clock)
    tamper(Rows(runtime, chain))

    report = verify(runtime, chain)

    # Check the first break is named, with what happened and where
    assert not report.ok
    assert [(b.position, b.kind) for b in report.breaks] == [(3, kind)]


def test_rewritten_links_are_caught_by_the_signed_checkpoints(runtime, clock):
    make_history(runtime, clock)
    Rows(runtime, EVENTS).change(3)
    # The tamperer also rewrites the chain from there on, with the server's own code, but has no key
    with runtime.store.transaction() as cursor:
        cursor.execute("DELETE FROM audit_links WHERE chain = ? AND position >= 3", (EVENTS,))
        cursor.execute("UPDATE projection_tracking SET notification_id = 2 WHERE projection = ?",
                       ("audit_chain_events",))
    old_checkpoints, _ = list_checkpoints(runtime.store, 1, 100, EVENTS)
    with runtime.store.transaction() as cursor:
        cursor.execute("DELETE FROM audit_checkpoints WHERE chain = ? AND position > ?",
                       (EVENTS, old_checkpoints[-1]["position"]))
    runtime.audit.keeper.catch_up()

    report = verify(runtime, EVENTS)

    assert [b.kind for b in report.breaks] == ["changed"]
    assert report.breaks[0].position <= 3


def test_forged_checkpoint_signature_is_reported(runtime, clock):
    make_history(runtime, clock)
    with runtime.store.transaction() as cursor:
        cursor.execute("UPDATE audit_checkpoints SET at = '2020-01-01T00:00:00.000000Z' WHERE chain = ?", (CALLS,))

    report = verify(runtime, CALLS)

    assert not report.ok
    assert report.bad_signatures and "signature does not verify" in report.bad_signatures[0]
