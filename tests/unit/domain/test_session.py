"""Session aggregate: given → when → then for why a session ends, checking the recorded events and the replay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.license import License, LicenseType
from domain.session import SESSION_TTL, EndReason, Session

AT = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
OWNER = UUID("00000000-0000-4000-8000-000000000001")
LATER = AT + timedelta(minutes=5)


def licensed(*hwids: str) -> License:
    """A license with `hwids` bound, as activation leaves it."""
    license = License("ABCD-EFGH-JKMN-PQRS", uuid4(), OWNER, LicenseType.SUBSCRIPTION, 3, True, None, {}, None, AT)
    for hwid in hwids:
        license.activate_device(hwid, AT)
    license.collect_events()
    return license


def started(license: License, hwid: str = "pc-1", at: datetime = AT) -> tuple[Session, list[Any]]:
    """A session begun on `hwid` at `at`, and its history so far (the Started event)."""
    session = Session(uuid4(), license.id, license.product_id, hwid, "hash-1", at + SESSION_TTL, "203.0.113.9", at)
    return session, session.collect_events()


def replay(events: list[Any]) -> Session:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def state(aggregate: Session) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def test_a_live_session_has_no_reason_to_close():
    license = licensed("pc-1")
    session, _ = started(license)

    assert session.closing_reason(license, False, LATER) is None


def test_a_session_without_a_heartbeat_for_its_ttl_closes_as_expired():
    license = licensed("pc-1")
    session, _ = started(license)

    # Check the session lapses exactly at expires_at, not a moment before.
    assert session.closing_reason(license, False, AT + SESSION_TTL - timedelta(microseconds=1)) is None
    assert session.closing_reason(license, False, AT + SESSION_TTL) is EndReason.EXPIRED


def test_a_heartbeat_moves_the_lapse_on():
    license = licensed("pc-1")
    session, _ = started(license)

    session.keep_alive("hash-2", AT + timedelta(minutes=50))

    assert session.closing_reason(license, False, AT + SESSION_TTL) is None
    assert session.closing_reason(license, False, AT + timedelta(minutes=50) + SESSION_TTL) is EndReason.EXPIRED


def test_a_session_on_a_released_device_closes_as_deactivated():
    license = licensed("pc-1", "pc-2")
    session, _ = started(license, "pc-1")
    other, _ = started(license, "pc-2")

    license.deactivate_device("pc-1", LATER)

    assert session.closing_reason(license, False, LATER) is EndReason.DEACTIVATED
    # Check the other device's session runs on.
    assert other.closing_reason(license, False, LATER) is None


def test_an_hwid_reset_closes_every_session_of_the_license_as_deactivated():
    license = licensed("pc-1", "pc-2")
    sessions = [started(license, hwid)[0] for hwid in ("pc-1", "pc-2")]

    license.reset_hwid(LATER)

    assert [s.closing_reason(license, False, LATER) for s in sessions] == [EndReason.DEACTIVATED] * 2


def test_a_revoke_closes_sessions_begun_at_or_before_it_as_revoked():
    license = licensed("pc-1")
    before, _ = started(license, at=AT)
    at_revoke, _ = started(license, at=LATER)
    after, _ = started(license, at=LATER + timedelta(seconds=1))

    license.revoke_sessions("compromised", LATER)

    assert before.closing_reason(license, False, LATER) is EndReason.REVOKED
    assert at_revoke.closing_reason(license, False, LATER) is EndReason.REVOKED
    assert after.closing_reason(license, False, LATER) is None


def test_revoked_outranks_a_released_device_and_a_lapse():
    license = licensed("pc-1")
    session, _ = started(license)
    license.deactivate_device("pc-1", LATER)
    license.revoke_sessions("compromised", LATER)

    assert session.closing_reason(license, False, AT + 2 * SESSION_TTL) is EndReason.REVOKED


def test_a_released_device_outranks_a_lapse():
    license = licensed("pc-1")
    session, _ = started(license)
    license.deactivate_device("pc-1", LATER)

    assert session.closing_reason(license, False, AT + 2 * SESSION_TTL) is EndReason.DEACTIVATED


@pytest.mark.parametrize("gone", ["license deleted", "license missing", "product deleted"])
def test_a_session_whose_license_or_product_is_gone_closes_as_revoked(gone):
    license = licensed("pc-1")
    session, _ = started(license)
    if gone == "license deleted":
        license.delete(LATER)

    reason = session.closing_reason(None if gone == "license missing" else license, gone == "product deleted", LATER)

    assert reason is EndReason.REVOKED


def test_an_ended_session_has_nothing_left_to_close():
    license = licensed("pc-1")
    session, _ = started(license)
    session.end(EndReason.LOGOUT, LATER)
    license.delete(LATER)

    assert session.closing_reason(license, True, AT + 2 * SESSION_TTL) is None


def test_closing_a_lapsed_session_records_one_ended_event_with_its_reason():
    license = licensed("pc-1")
    session, history = started(license)
    now = AT + SESSION_TTL

    reason = session.closing_reason(license, False, now)
    session.end(reason, now)  # type: ignore[arg-type]
    session.end(EndReason.REVOKED, now + timedelta(seconds=1))  # a second close is a no-op

    events = session.collect_events()
    assert [type(e) for e in events] == [Session.Ended]
    assert (events[0].reason, events[0].at) == (EndReason.EXPIRED, now)
    assert session.closing_reason(license, False, now) is None
    # Check the events alone rebuild exactly the state the methods produced.
    assert state(replay(history + events)) == state(session)


def test_a_device_released_and_bound_again_does_not_bring_its_old_session_back():
    license = licensed("pc-1")
    old, _ = started(license, "pc-1")
    license.deactivate_device("pc-1", LATER)

    license.activate_device("pc-1", LATER + timedelta(minutes=1))
    new, _ = started(license, "pc-1", LATER + timedelta(minutes=1))

    # Check the session from before the release stays dead (a leaked token must not come back to life).
    assert not license.holds_session("pc-1", old.started_at)
    assert old.closing_reason(license, False, LATER + timedelta(minutes=2)) is EndReason.DEACTIVATED
    assert new.closing_reason(license, False, LATER + timedelta(minutes=2)) is None


def test_a_license_snapshot_from_before_binding_times_were_kept_still_holds_its_sessions():
    from eventsourcing.domain import Snapshot

    license = licensed("pc-1")
    session, _ = started(license, "pc-1")
    snapshot = Snapshot.take(license)
    v1_state = {name: value for name, value in snapshot.state.items() if name not in ("bound_at", "class_version")}
    old_snapshot = Snapshot(originator_id=snapshot.originator_id, originator_version=snapshot.originator_version,
                            timestamp=snapshot.timestamp, topic=snapshot.topic, state=v1_state)

    restored = old_snapshot.mutate(None)

    # Check the v1 snapshot is upcast: its bound device still holds the session, and binding works on from it.
    assert restored.holds_session("pc-1", session.started_at)
    restored.deactivate_device("pc-1", LATER)
    restored.activate_device("pc-1", LATER)
    assert not restored.holds_session("pc-1", session.started_at)
