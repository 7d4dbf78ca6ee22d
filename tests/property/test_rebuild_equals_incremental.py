"""A read model rebuilt from the event store equals the one built incrementally, after any vendor session.

The snapshot holds every query answer (licenses per owner and for an admin, logs per license,
products, accounts, and whatever stats/notifications queries exist) and every read-model table's
rows. Examples accumulate in one store, so each rebuild replays every earlier example too.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import snapshot
from tests.property.conftest import Scenario, account_steps, steps

PROPERTY_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

# A session is license and product steps with up to two account changes mixed in anywhere.
sessions = st.tuples(steps, st.lists(account_steps, max_size=2)).map(lambda parts: parts[0] + parts[1]).flatmap(st.permutations)


def test_rebuilt_read_models_equal_incremental_ones(runtime, examples):
    vendors, license_ids = [], []

    @settings(max_examples=examples, **PROPERTY_SETTINGS)
    @given(session=sessions)
    def property_holds(session):
        scenario = Scenario(runtime, register=True)
        vendors.append(scenario.vendor)
        for step in session:
            scenario.run(step)
        license_ids.extend(scenario.licenses)
        scenario.settle()
        incremental = snapshot(runtime, vendors, license_ids)

        runtime.projector.rebuild()
        scenario.settle()

        assert snapshot(runtime, vendors, license_ids) == incremental
        # Check the comparison was not vacuous: this vendor's live licenses are all there.
        assert incremental["licenses"][str(scenario.vendor.id)][1]["total"] == len(scenario.live())

    property_holds()
