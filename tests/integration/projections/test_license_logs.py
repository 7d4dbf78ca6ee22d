"""A license's logs: its changes (projected from events) and its client calls (read from the call log), one history.

SQLite and PostgreSQL: the two sources merge into pages that, put together, are the whole
history, newest first, with a call's outcome after the changes made at the same instant.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.refusals import ClientRefusedError
from domain.client_call import ClientRequest
from domain.license import LicenseStatus
from projections.license_logs import list_license_logs
from tests.integration.conftest import issue, settle

STEPS = st.lists(st.tuples(st.sampled_from(["validate", "wrong device", "toggle suspension"]), st.booleans()),
                 max_size=14)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, limit=st.integers(1, 6))
def test_pages_put_together_are_the_whole_history_newest_first(runtime, ledger, vendor, product_id, clock, steps,
                                                               limit):
    license_id = issue(ledger, vendor, product_id, clock())
    key = ledger.get_license(vendor, license_id).key
    made = [("activation", True)]
    ledger.activate_license(ClientRequest(key, product_id, "device-a", "203.0.113.9", "ua", clock()))
    suspended, changes = False, 2  # created, device_activated
    for step, same_instant in steps:
        at = clock() if same_instant else clock.advance(seconds=1)
        if step == "toggle suspension":
            suspended = not suspended
            ledger.update_license(vendor, license_id, at,
                                  status=LicenseStatus.SUSPENDED if suspended else LicenseStatus.ACTIVE)
            changes += 1
            continue
        device = "device-a" if step == "validate" else "device-b"
        try:
            ledger.validate_license(ClientRequest(key, product_id, device, "203.0.113.9", "ua", at))
            made.append(("validation", True))
        except ClientRefusedError:
            made.append(("validation", False))
    settle(runtime)
    calls = runtime.ledger.calls.store

    whole, whole_pages = list_license_logs(runtime.store, calls, str(license_id), 1, 1000)
    pages = [list_license_logs(runtime.store, calls, str(license_id), page, limit)
             for page in range(1, len(whole) // limit + 3)]  # up to a page past the last

    assert [row for rows, _ in pages for row in rows] == whole
    assert {pagination["total"] for _, pagination in pages} == {len(whole)}
    assert whole_pages["total"] == len(whole) == len(made) + changes
    assert len({row["id"] for row in whole}) == len(whole)
    order = [(row["created_at"], row["id"].startswith("call:")) for row in whole]
    assert order == sorted(order, reverse=True)  # newest first; at one instant, calls after the changes
    assert [(row["action"], row["success"]) for row in whole if row["id"].startswith("call:")] == made[::-1]
    assert whole[-1]["action"] == "created"
