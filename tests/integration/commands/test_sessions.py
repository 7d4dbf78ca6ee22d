"""Session ends on SQLite and PostgreSQL: the sweeper records why each session that can no longer run has ended."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from domain.client_call import ClientRequest
from domain.refusals import SessionExpiredError
from domain.session import SESSION_TTL, EndReason, Session
from projections.base import iso
from projections.sessions import count_active_sessions, list_sessions, sessions_to_close
from tests.conftest import eventually
from tests.integration.conftest import issue, settle
from workers.expiry import run_sweeper, sweep_sessions


@pytest.fixture
def license_id(ledger, vendor, product_id, clock):
    return issue(ledger, vendor, product_id, clock(), max_uses=2)


@pytest.fixture
def call(ledger, vendor, license_id, product_id, clock):
    """A client request for the license, from a device, made now."""
    key = ledger.get_license(vendor, license_id).key
    return lambda hwid="pc-1": ClientRequest(key, product_id, hwid, "203.0.113.9", "test", clock())


@pytest.fixture
def sweep(runtime, clock):
    """One sweeper round over sessions, once the read models have seen every write."""

    def sweep_now() -> int:
        settle(runtime)
        return sweep_sessions(runtime.ledger, runtime.store, clock())

    return sweep_now


def start(ledger, request):
    """Activate and return the session's id and token."""
    granted = ledger.activate_license(request)
    return granted.session.id, granted.session_token


def endings(ledger, session_id: UUID) -> list[tuple[EndReason, object]]:
    """The session's recorded Ended events, as (reason, at), straight from the event store."""
    return [(e.reason, e.at) for e in ledger.events.get(session_id) if isinstance(e, Session.Ended)]


def row(runtime, license_id, session_id):
    settle(runtime)
    rows = list_sessions(runtime.store, runtime.clock(), license_id=str(license_id), limit=100)[0]
    return next(r for r in rows if r["id"] == str(session_id))


def test_a_lapsed_session_is_ended_as_expired_once(runtime, ledger, license_id, call, sweep, clock):
    session_id, token = start(ledger, call())
    assert sweep() == 0  # still live: nothing to record

    clock.advance(seconds=SESSION_TTL.total_seconds() + 1)
    # Check the client is refused at once, before anything is recorded.
    with pytest.raises(SessionExpiredError):
        ledger.keep_session_alive(call(), token)
    assert endings(ledger, session_id) == []

    clock.advance(days=3)  # the sweep comes late (the server was down)
    assert sweep() == 1
    lapsed_at = clock() - timedelta(days=3, seconds=1)
    # Check the end is dated when the session lapsed, not when the late sweep noticed it.
    assert endings(ledger, session_id) == [(EndReason.EXPIRED, lapsed_at)]
    shown = row(runtime, license_id, session_id)
    assert (shown["ended_at"], shown["end_reason"], shown["is_active"]) == (iso(lapsed_at), "expired", False)
    # Check a second round finds nothing and writes nothing.
    position = ledger.position()
    assert sweep() == 0
    assert ledger.position() == position
    assert sessions_to_close(runtime.store, clock()) == []


def test_deactivating_a_device_ends_its_session_as_deactivated(runtime, ledger, license_id, call, sweep, clock):
    released, _ = start(ledger, call("pc-1"))
    kept, kept_token = start(ledger, call("pc-2"))

    ledger.deactivate_license(call("pc-1"))

    assert sweep() == 1
    assert endings(ledger, released) == [(EndReason.DEACTIVATED, clock())]
    # Check the other device's session is untouched and still works.
    assert endings(ledger, kept) == []
    ledger.keep_session_alive(call("pc-2"), kept_token)
    assert row(runtime, license_id, kept)["is_active"] is True


def test_an_hwid_reset_ends_every_session_of_the_license_as_deactivated(runtime, ledger, vendor, license_id, call,
                                                                        sweep, clock):
    sessions = [start(ledger, call(hwid))[0] for hwid in ("pc-1", "pc-2")]

    ledger.reset_hwid(vendor, license_id, clock())

    assert sweep() == 2
    assert [endings(ledger, s) for s in sessions] == [[(EndReason.DEACTIVATED, clock())]] * 2


def test_deleting_the_license_ends_its_sessions_as_revoked(runtime, ledger, vendor, license_id, call, sweep, clock):
    session_id, _ = start(ledger, call())

    ledger.delete_license(vendor, license_id, clock())

    assert sweep() == 1
    assert endings(ledger, session_id) == [(EndReason.REVOKED, clock())]
    assert row(runtime, license_id, session_id)["end_reason"] == "revoked"


def test_deleting_the_product_ends_its_sessions_as_revoked(runtime, ledger, vendor, product_id, call, sweep, clock):
    session_id, _ = start(ledger, call())

    ledger.delete_product(vendor, product_id, clock())

    assert sweep() == 1
    assert endings(ledger, session_id) == [(EndReason.REVOKED, clock())]


def test_a_revoke_ends_the_sessions_begun_before_it_but_not_those_after(runtime, ledger, license_id, call, sweep,
                                                                        clock):
    revoked_at = clock()
    before, _ = start(ledger, call())
    clock.advance(seconds=1)
    after, after_token = start(ledger, call())
    # A revoke decided at `revoked_at` reaches the store after the later activation (say, from another
    # process). No command revokes sessions yet, so this uses the aggregate's own method.
    license = ledger.repository.get(license_id)
    license.revoke_sessions("compromised", revoked_at)
    ledger.record(license)

    assert sweep() == 1
    assert endings(ledger, before) == [(EndReason.REVOKED, clock())]
    assert endings(ledger, after) == []
    ledger.keep_session_alive(call(), after_token)
    # Check the read model agrees: the later session is active and nobody's work.
    assert row(runtime, license_id, after)["is_active"] is True
    assert sessions_to_close(runtime.store, clock()) == []


def test_a_session_heartbeated_since_the_read_model_was_read_is_not_ended(runtime, ledger, license_id, call, clock):
    session_id, token = start(ledger, call())
    clock.advance(minutes=50)
    settle(runtime)
    runtime.projector.stop()  # the read model falls behind: it never sees the heartbeat below
    ledger.keep_session_alive(call(), token, rotate=False)
    clock.advance(minutes=20)  # past the expiry the read model still shows, before the heartbeat's
    position = ledger.position()

    # Check the stale read model nominates the session, yet neither the sweep nor the command ends it.
    assert sessions_to_close(runtime.store, clock()) == [str(session_id)]
    assert sweep_sessions(ledger, runtime.store, clock()) == 0
    assert ledger.close_session(session_id, clock()) is None
    assert ledger.position() == position
    assert endings(ledger, session_id) == []
    ledger.keep_session_alive(call(), token, rotate=False)
    # Check the read model, once caught up, no longer nominates it.
    runtime.projector.catch_up()
    assert sessions_to_close(runtime.store, clock()) == []


def test_closing_an_unknown_or_ended_session_does_nothing(runtime, ledger, license_id, call, clock):
    session_id, token = start(ledger, call())
    ledger.end_session(call(), token)  # logout
    clock.advance(hours=2)
    position = ledger.position()

    assert ledger.close_session(session_id, clock()) is None
    assert ledger.close_session(uuid4(), clock()) is None
    assert ledger.close_session(license_id, clock()) is None  # an id of another kind of aggregate

    assert ledger.position() == position
    assert endings(ledger, session_id) == [(EndReason.LOGOUT, clock() - timedelta(hours=2))]


def test_sessions_are_listed_newest_first_by_license_and_activity(runtime, ledger, vendor, product_id, license_id,
                                                                  call, clock):
    first, first_token = start(ledger, call("pc-1"))
    second, _ = start(ledger, call("pc-2"))
    other_license = issue(ledger, vendor, product_id, clock())
    other_key = ledger.get_license(vendor, other_license).key
    other, _ = start(ledger, ClientRequest(other_key, product_id, "pc-9", None, None, clock()))
    clock.advance(minutes=10)
    ledger.keep_session_alive(call("pc-1"), first_token)
    ledger.deactivate_license(call("pc-2"))  # stops its session at once, before any sweep
    settle(runtime)
    store, now = runtime.store, clock()

    every, page = list_sessions(store, now)
    assert [r["id"] for r in every] == [str(other), str(second), str(first)]
    assert page == {"page": 1, "limit": 20, "total": 3, "pages": 1}
    # Check the filters: by license, by activity, and both.
    assert {r["id"] for r in list_sessions(store, now, license_id=str(license_id))[0]} == {str(first), str(second)}
    assert {r["id"] for r in list_sessions(store, now, is_active=True)[0]} == {str(first), str(other)}
    assert [r["id"] for r in list_sessions(store, now, is_active=False)[0]] == [str(second)]
    assert [r["id"] for r in list_sessions(store, now, license_id=str(license_id), is_active=True)[0]] == [str(first)]
    assert count_active_sessions(store, now) == 2
    # Check the heartbeat shows, and pages split the list.
    heartbeated = row(runtime, license_id, first)
    assert (heartbeated["heartbeats"], heartbeated["last_heartbeat_at"]) == (1, iso(now))
    assert heartbeated["expires_at"] == iso(now + SESSION_TTL)
    assert [r["id"] for r in list_sessions(store, now, page=2, limit=2)[0]] == [str(first)]
    # Check a lapse needs no event to count: an hour on, the two live sessions are no longer active.
    later = now + SESSION_TTL
    assert count_active_sessions(store, later) == 0
    assert sessions_to_close(store, later) == [str(first), str(second), str(other)]


def test_the_sweeper_loop_ends_lapsed_sessions_each_round(runtime, ledger, license_id, call, clock):
    session_id, _ = start(ledger, call())
    clock.advance(hours=2)
    settle(runtime)
    stop = threading.Event()
    sweeper = threading.Thread(target=run_sweeper, args=(ledger, runtime.store, clock, stop, 0.01))
    sweeper.start()
    try:
        eventually(lambda: endings(ledger, session_id), "the sweeper thread ends the session", 10, 0.01)
    finally:
        stop.set()
        sweeper.join(timeout=10)

    assert endings(ledger, session_id) == [(EndReason.EXPIRED, clock() - timedelta(hours=2) + SESSION_TTL)]


def test_a_session_end_stored_before_it_carried_a_note_still_replays(ledger, call):
    session_id = ledger.activate_license(call()).session.id
    ledger.revoke_session(session_id, "stolen", call().at)
    stored = ledger.recorder.select_events(session_id, desc=True, limit=1)[0]
    state = ledger.mapper.transcoder.decode(stored.state)
    # Check the event as stored before `note` existed (no such field) reads as an end without a note.
    assert state.pop("class_version") == 2
    del state["note"]
    older = type(stored)(stored.originator_id, stored.originator_version, stored.topic,
                         ledger.mapper.transcoder.encode(state))
    event = ledger.mapper.to_domain_event(older)
    assert (event.reason, event.note) == (EndReason.REVOKED, "")
    assert ledger.mapper.to_domain_event(stored).note == "stolen"


@pytest.mark.parametrize("revoke", ["session", "license"])
def test_a_revoke_made_by_another_process_refuses_the_very_next_heartbeat(ledger, settings, call, license_id,
                                                                          clock, revoke):
    from keyledger.wiring import build_ledger, eventsourcing_env

    granted = ledger.activate_license(call())
    token = ledger.keep_session_alive(call(), granted.session_token).session_token  # this process caches it
    other_process = build_ledger(eventsourcing_env(settings), ledger.master_key)
    try:
        if revoke == "session":
            other_process.revoke_session(granted.session.id, "stolen", clock())
        else:
            other_process.revoke_license_sessions(license_id, "compromised", clock())
    finally:
        other_process.close()

    with pytest.raises(SessionExpiredError):
        ledger.keep_session_alive(call(), token)
