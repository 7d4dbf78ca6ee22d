"""License aggregate: given → when → then, checking the recorded events and the replayed state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import dataclasses

import pytest

from domain.errors import InvalidValueError
from domain.ids import license_id_for_key
from domain.license import (
    TRIAL_DAYS,
    License,
    LicenseNotFoundError,
    LicenseStatus,
    LicenseTerms,
    LicenseType,
    MaxUsesBelowActivationsError,
    check_terms,
    default_expiry,
)
from domain.refusals import HwidMismatchError, MaxUsesExceededError

AT = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
KEY = "ABCD-EFGH-JKMN-PQRS"
OWNER = UUID("00000000-0000-4000-8000-000000000001")


def issued(license_type: LicenseType = LicenseType.SUBSCRIPTION, max_uses: int = 2,
           expires_at: datetime | None = None) -> tuple[License, list[Any]]:
    """A freshly issued license and its history so far (the Issued event)."""
    license = License(KEY, uuid4(), OWNER, license_type, max_uses, True, expires_at, {"plan": "pro"}, None, AT)
    return license, license.collect_events()


def replay(events: list[Any]) -> License:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def state(aggregate: License) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def assert_replays_to(license: License, history: list[Any]) -> None:
    # Check the events alone rebuild exactly the state the methods produced.
    assert state(replay(history)) == state(license)


def test_issued_license_records_its_terms_and_id_from_its_key():
    license, history = issued(expires_at=AT + timedelta(days=30))

    assert [type(e) for e in history] == [License.Issued]
    issued_event = history[0]
    assert (issued_event.key, issued_event.owner_id, issued_event.max_uses) == (KEY, OWNER, 2)
    assert issued_event.at == AT
    assert license.id == license_id_for_key(KEY) == License.create_id(KEY.lower())
    assert license.status_at(AT) is LicenseStatus.ACTIVE
    assert_replays_to(license, history)


def test_suspended_license_reinstates():
    license, history = issued()
    license.suspend("chargeback", AT)
    history += license.collect_events()

    license.reinstate(AT + timedelta(hours=1))

    events = license.collect_events()
    assert [type(e) for e in events] == [License.Reinstated]
    assert events[0].at == AT + timedelta(hours=1)
    assert license.status_at(AT) is LicenseStatus.ACTIVE
    assert_replays_to(license, history + events)


def test_suspending_twice_records_one_event():
    license, history = issued()

    license.suspend("chargeback", AT)
    license.suspend("again", AT + timedelta(minutes=1))

    events = license.collect_events()
    assert [type(e) for e in events] == [License.Suspended]
    assert events[0].reason == "chargeback"
    assert license.status_at(AT) is LicenseStatus.SUSPENDED
    assert_replays_to(license, history + events)


def test_reinstating_an_active_license_records_nothing():
    license, _ = issued()

    license.reinstate(AT)

    assert license.collect_events() == []


def test_suspension_wins_over_expiry_in_status():
    license, _ = issued(expires_at=AT + timedelta(days=1))
    license.suspend("fraud", AT)

    assert license.status_at(AT + timedelta(days=2)) is LicenseStatus.SUSPENDED


def test_license_is_expired_from_the_instant_of_its_expiry():
    license, _ = issued(expires_at=AT + timedelta(days=1))

    assert license.status_at(AT + timedelta(days=1) - timedelta(microseconds=1)) is LicenseStatus.ACTIVE
    assert license.status_at(AT + timedelta(days=1)) is LicenseStatus.EXPIRED


def test_lifetime_license_with_an_expiry_is_refused():
    with pytest.raises(InvalidValueError):
        check_terms(LicenseType.LIFETIME, 1, AT + timedelta(days=1))


def test_lifetime_license_cannot_be_given_an_expiry_later():
    license, _ = issued(LicenseType.LIFETIME)

    with pytest.raises(InvalidValueError):
        license.change_expiry(AT + timedelta(days=1), AT)

    # Check the guard ran before any event was recorded.
    assert license.collect_events() == []
    assert license.expires_at is None


@pytest.mark.parametrize("max_uses", [0, -1])
def test_max_uses_below_one_is_refused(max_uses):
    with pytest.raises(InvalidValueError):
        check_terms(LicenseType.SUBSCRIPTION, max_uses, None)


def test_changing_limits_to_zero_uses_is_refused_and_records_nothing():
    license, _ = issued()

    with pytest.raises(InvalidValueError):
        license.change_limits(0, True, AT)

    assert license.collect_events() == []
    assert license.max_uses == 2


def test_limits_change_records_both_limits():
    license, history = issued()

    license.change_limits(5, False, AT)

    events = license.collect_events()
    assert [type(e) for e in events] == [License.LimitsChanged]
    assert (events[0].max_uses, events[0].hwid_locked) == (5, False)
    assert_replays_to(license, history + events)


def test_unchanged_limits_record_nothing():
    license, _ = issued()

    license.change_limits(2, True, AT)

    assert license.collect_events() == []


def test_max_uses_cannot_drop_below_bound_devices():
    license, history = issued(max_uses=3)
    license.activate_device("device-a", AT)
    license.activate_device("device-b", AT)
    history += license.collect_events()

    with pytest.raises(MaxUsesBelowActivationsError):
        license.change_limits(1, True, AT)

    assert license.collect_events() == []
    license.change_limits(2, True, AT)  # exactly the bound devices is fine
    assert [type(e) for e in license.collect_events()] == [License.LimitsChanged]


def test_activation_beyond_max_uses_is_refused():
    license, _ = issued(max_uses=1)
    assert license.activate_device("device-a", AT) is True

    with pytest.raises(MaxUsesExceededError):
        license.activate_device("device-b", AT)

    # Check the bound device is accepted again without a second event.
    assert license.activate_device("device-a", AT) is False
    assert [type(e) for e in license.collect_events()] == [License.ActivatedOnDevice]
    assert license.devices == ["device-a"]


def test_deactivating_a_device_that_holds_no_slot_is_a_mismatch():
    license, _ = issued()

    with pytest.raises(HwidMismatchError):
        license.deactivate_device("device-a", AT)

    assert license.collect_events() == []


def test_reset_hwid_records_the_released_devices():
    license, history = issued()
    license.activate_device("device-a", AT)
    license.activate_device("device-b", AT)
    history += license.collect_events()

    license.reset_hwid(AT + timedelta(hours=1))

    events = license.collect_events()
    assert [type(e) for e in events] == [License.HwidReset]
    assert events[0].released == ["device-a", "device-b"]
    assert license.devices == []
    assert_replays_to(license, history + events)


def test_deleted_license_is_visible_to_no_one():
    license, history = issued()

    license.delete(AT)

    events = license.collect_events()
    assert [type(e) for e in events] == [License.Deleted]
    for actor_id, is_admin in ((OWNER, False), (OWNER, True), (uuid4(), True)):
        with pytest.raises(LicenseNotFoundError):
            license.require_visible_to(actor_id, is_admin)
    assert replay(history + events).is_deleted


def test_deleting_twice_records_one_event():
    license, _ = issued()

    license.delete(AT)
    license.delete(AT)

    assert [type(e) for e in license.collect_events()] == [License.Deleted]


def test_another_owners_license_is_not_visible_but_an_admin_sees_it():
    license, _ = issued()

    license.require_visible_to(OWNER, is_admin=False)
    license.require_visible_to(uuid4(), is_admin=True)
    with pytest.raises(LicenseNotFoundError):
        license.require_visible_to(uuid4(), is_admin=False)


def test_expiry_is_not_recorded_before_the_license_lapses():
    license, _ = issued(expires_at=AT + timedelta(days=1))

    assert license.record_expiry(AT + timedelta(hours=23)) is False

    assert license.collect_events() == []
    assert license.expiry_recorded is False


def test_expiry_is_recorded_once_after_the_license_lapses():
    expires_at = AT + timedelta(days=1)
    license, history = issued(expires_at=expires_at)

    assert license.record_expiry(expires_at + timedelta(minutes=5)) is True
    assert license.record_expiry(expires_at + timedelta(days=1)) is False

    events = license.collect_events()
    assert [type(e) for e in events] == [License.Expired]
    assert (events[0].expired_at, events[0].at) == (expires_at, expires_at + timedelta(minutes=5))
    assert_replays_to(license, history + events)


def test_a_license_without_expiry_never_records_one():
    license, _ = issued()

    assert license.record_expiry(AT + timedelta(days=10_000)) is False
    assert license.collect_events() == []


def test_suspended_or_deleted_license_records_no_expiry():
    suspended, _ = issued(expires_at=AT + timedelta(days=1))
    suspended.suspend("fraud", AT)
    deleted, _ = issued(expires_at=AT + timedelta(days=1))
    deleted.delete(AT)
    suspended.collect_events(), deleted.collect_events()

    assert suspended.record_expiry(AT + timedelta(days=2)) is False
    assert deleted.record_expiry(AT + timedelta(days=2)) is False
    assert suspended.collect_events() == deleted.collect_events() == []


def test_expiry_change_clears_the_recorded_expiry():
    license, history = issued(expires_at=AT + timedelta(days=1))
    license.record_expiry(AT + timedelta(days=2))
    history += license.collect_events()

    license.change_expiry(AT + timedelta(days=30), AT + timedelta(days=2))

    events = license.collect_events()
    assert [type(e) for e in events] == [License.ExpiryChanged]
    assert events[0].expires_at == AT + timedelta(days=30)
    assert license.expiry_recorded is False
    assert license.status_at(AT + timedelta(days=2)) is LicenseStatus.ACTIVE
    assert_replays_to(license, history + events)
    # Check the new expiry date is recorded again once it too has passed.
    assert license.record_expiry(AT + timedelta(days=31)) is True


def test_clearing_the_expiry_makes_the_license_active_again():
    license, _ = issued(expires_at=AT + timedelta(days=1))

    license.change_expiry(None, AT)

    assert [type(e) for e in license.collect_events()] == [License.ExpiryChanged]
    assert license.status_at(AT + timedelta(days=365)) is LicenseStatus.ACTIVE


def test_unchanged_expiry_records_nothing():
    license, _ = issued(expires_at=AT + timedelta(days=1))

    license.change_expiry(AT + timedelta(days=1), AT)

    assert license.collect_events() == []


def test_metadata_change_records_the_new_metadata_only_when_it_differs():
    license, history = issued()

    license.change_metadata({"plan": "pro"}, AT)
    license.change_metadata({"plan": "team", "seats": 5}, AT)

    events = license.collect_events()
    assert [type(e) for e in events] == [License.MetadataChanged]
    assert events[0].metadata == {"plan": "team", "seats": 5}
    assert_replays_to(license, history + events)


def test_trial_without_expiry_runs_fourteen_days():
    assert TRIAL_DAYS == 14
    assert default_expiry(LicenseType.TRIAL, None, AT) == AT + timedelta(days=14)


def test_trial_with_an_explicit_expiry_and_other_types_keep_theirs():
    explicit = AT + timedelta(days=3)

    assert default_expiry(LicenseType.TRIAL, explicit, AT) == explicit
    assert default_expiry(LicenseType.SUBSCRIPTION, None, AT) is None
    assert default_expiry(LicenseType.LIFETIME, None, AT) is None


def test_license_terms_are_named_and_frozen():
    # Check no term can be passed by position (no positional booleans) nor changed after the fact.
    with pytest.raises(TypeError):
        LicenseTerms(LicenseType.TRIAL, 2, False)  # type: ignore[misc]
    terms = LicenseTerms(license_type=LicenseType.TRIAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        terms.max_uses = 5  # type: ignore[misc]


def test_terms_as_issued_give_a_trial_its_default_end_and_obey_the_rules():
    trial = LicenseTerms(license_type=LicenseType.TRIAL, max_uses=3).as_issued(AT)

    assert trial == LicenseTerms(license_type=LicenseType.TRIAL, max_uses=3, expires_at=AT + timedelta(days=TRIAL_DAYS))
    with pytest.raises(InvalidValueError):
        LicenseTerms(license_type=LicenseType.LIFETIME, expires_at=AT).as_issued(AT)
    with pytest.raises(InvalidValueError):
        LicenseTerms(max_uses=0).as_issued(AT)


def test_license_issued_on_terms_records_every_term():
    terms = LicenseTerms(max_uses=2, hwid_locked=False, expires_at=AT + timedelta(days=30), metadata={"plan": "pro"},
                         username="ada")

    license = License.issue(KEY, uuid4(), OWNER, terms, None, AT)

    event = license.collect_events()[0]
    assert (event.license_type, event.max_uses, event.hwid_locked, event.expires_at, event.metadata, event.username) == (
        LicenseType.SUBSCRIPTION, 2, False, AT + timedelta(days=30), {"plan": "pro"}, "ada")
    assert license.id == license_id_for_key(KEY)
