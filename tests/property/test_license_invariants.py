"""Invariants of the licenses read model over random vendor sessions, on SQLite and PostgreSQL.

After every step, once the read models have caught up:
- no license shows more devices in use than it allows (current_uses <= max_uses);
- a deleted license (or one of a deleted product) appears in no read-model query, ever again,
  including after later examples have run on the same store;
- every live license is listed, with the status its aggregate has at `now`, under every status filter.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from domain.license import LicenseStatus
from projections import licenses
from tests.property.conftest import Scenario, steps

PROPERTY_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def check_read_model(scenario: Scenario, gone_before: set[str]) -> None:
    scenario.settle()
    store, now, owner = scenario.runtime.store, scenario.clock(), str(scenario.vendor.id)
    rows = {row["id"]: row for row in licenses.list_licenses(store, owner, now, limit=10_000)[0]}
    admin_rows = {row["id"] for row in licenses.list_licenses(store, None, now, limit=100_000)[0]}
    live = {str(i): scenario.aggregate(i) for i in scenario.live()}
    gone = {str(i) for i in scenario.gone()}

    # Check no license uses more devices than it allows.
    for row in rows.values():
        assert 0 <= row["current_uses"] <= row["max_uses"], row
    # Check what is gone stays gone, in every query that could show it (this example's and earlier ones').
    assert not ((gone | gone_before) & (set(rows) | admin_rows))
    assert all(licenses.get_license(store, license_id, None, now) is None for license_id in gone)
    if gone | gone_before:
        assert licenses.get_licenses(store, sorted(gone | gone_before), now) == []
    # Check every live license is listed, for its vendor and an admin, with its aggregate's status and devices.
    assert set(rows) == set(live) == admin_rows & {str(i) for i in scenario.licenses}
    for license_id, aggregate in live.items():
        row = rows[license_id]
        assert row["status"] == aggregate.status_at(now).value, (row, aggregate.expires_at, now)
        assert (row["max_uses"], row["current_uses"]) == (aggregate.max_uses, len(aggregate.devices)), row
    for status in LicenseStatus:
        filtered = {row["id"] for row in licenses.list_licenses(store, owner, now, status=status, limit=10_000)[0]}
        assert filtered == {i for i, aggregate in live.items() if aggregate.status_at(now) is status}, status


def test_read_model_keeps_the_license_invariants(runtime, examples):
    gone_before: set[str] = set()

    @settings(max_examples=examples, **PROPERTY_SETTINGS)
    @given(session=steps)
    def property_holds(session):
        scenario = Scenario(runtime)
        try:
            for step in session:
                scenario.run(step)
                check_read_model(scenario, gone_before)
        finally:
            gone_before.update(str(i) for i in scenario.gone())

    property_holds()
