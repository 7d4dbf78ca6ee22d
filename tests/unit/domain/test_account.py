"""Account aggregate and its index aggregates: given → when → then, with replayed state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from domain.account import (
    Account,
    AccountDeactivatedError,
    AdminRoster,
    EmailIndex,
    FirstAccountSeat,
    LastAdminError,
    Role,
)
from domain.ids import admin_roster_id, email_index_id, first_account_seat_id

AT = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def registered(role: Role = Role.USER) -> tuple[Account, list[Any]]:
    account = Account("vendor@example.com", "hash-1", "Vendor", role, AT)
    return account, account.collect_events()


def replay(events: list[Any]) -> Any:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def state(aggregate: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def test_registered_account_is_active_with_its_role():
    account, history = registered(Role.ADMIN)

    assert [type(e) for e in history] == [Account.Registered]
    assert (history[0].email, history[0].role, history[0].at) == ("vendor@example.com", Role.ADMIN, AT)
    assert account.is_active and account.role is Role.ADMIN
    account.require_active()
    assert state(replay(history)) == state(account)


def test_role_change_records_the_new_role():
    account, history = registered()

    account.change_role(Role.ADMIN, AT + timedelta(hours=1))

    events = account.collect_events()
    assert [type(e) for e in events] == [Account.RoleChanged]
    assert (events[0].role, events[0].at) == (Role.ADMIN, AT + timedelta(hours=1))
    assert account.role is Role.ADMIN
    assert state(replay(history + events)) == state(account)


def test_changing_to_the_same_role_records_nothing():
    account, _ = registered()

    account.change_role(Role.USER, AT)

    assert account.collect_events() == []


def test_deactivated_account_may_not_act():
    account, history = registered()

    account.set_active(False, AT)
    account.set_active(False, AT)  # a second deactivation is a no-op

    events = account.collect_events()
    assert [type(e) for e in events] == [Account.Deactivated]
    assert account.is_active is False
    with pytest.raises(AccountDeactivatedError):
        account.require_active()
    assert state(replay(history + events)) == state(account)


def test_reactivated_account_may_act_again():
    account, history = registered()
    account.set_active(False, AT)
    history += account.collect_events()

    account.set_active(True, AT + timedelta(days=1))
    account.set_active(True, AT + timedelta(days=1))

    events = account.collect_events()
    assert [type(e) for e in events] == [Account.Reactivated]
    account.require_active()
    assert state(replay(history + events)) == state(account)


def test_activating_an_active_account_records_nothing():
    account, _ = registered()

    account.set_active(True, AT)

    assert account.collect_events() == []


def test_password_change_records_only_the_new_hash():
    account, history = registered()

    account.change_password("hash-2", AT)

    events = account.collect_events()
    assert [type(e) for e in events] == [Account.PasswordChanged]
    assert events[0].password_hash == "hash-2"
    assert state(replay(history + events)).get("password_hash") == "hash-2"


def test_email_index_id_ignores_case_and_surrounding_space():
    index = EmailIndex(email="vendor@example.com", account_id=uuid4())

    assert index.id == email_index_id("  Vendor@Example.COM ") == EmailIndex.create_id("vendor@example.com")
    assert index.id != email_index_id("other@example.com")


def test_first_account_seat_is_a_singleton():
    seat = FirstAccountSeat(account_id=uuid4())
    other = FirstAccountSeat(account_id=uuid4())

    assert seat.id == other.id == first_account_seat_id()


def test_retired_token_is_recorded_with_its_expiry_and_changes_no_state():
    account, history = registered()
    expires_at = AT + timedelta(hours=24)
    kept = {name for name in state(account) if not name.startswith("_")}

    account.retire_token("a" * 32, expires_at, AT)

    events = account.collect_events()
    assert [type(e) for e in events] == [Account.TokenRetired]
    assert (events[0].jti, events[0].expires_at, events[0].at) == ("a" * 32, expires_at, AT)
    # Check the account keeps no list of retired tokens (the read model does).
    assert {name for name in state(account) if not name.startswith("_")} == kept
    assert state(replay(history + events)) == state(account)


def test_only_an_active_admin_counts_as_one():
    account, _ = registered(Role.ADMIN)
    assert account.is_active_admin
    account.set_active(False, AT)
    assert not account.is_active_admin
    assert not registered(Role.USER)[0].is_active_admin


def test_roster_admits_a_new_admin_and_dismisses_one_of_two():
    first, second = uuid4(), uuid4()
    roster = AdminRoster(admin_ids=[first], at=AT)
    history = roster.collect_events()

    roster.count(second, True, AT)
    roster.count(second, True, AT)  # already counted: nothing more
    roster.count(first, False, AT + timedelta(minutes=1))

    events = roster.collect_events()
    assert [type(e) for e in events] == [AdminRoster.Admitted, AdminRoster.Dismissed]
    assert [e.account_id for e in events] == [second, first]
    assert roster.admin_ids == [second]
    assert roster.id == admin_roster_id()
    assert state(replay(history + events)) == state(roster)


def test_roster_refuses_to_dismiss_the_last_admin():
    only = uuid4()
    roster = AdminRoster(admin_ids=[only], at=AT)
    roster.collect_events()

    with pytest.raises(LastAdminError):
        roster.count(only, False, AT)

    # Check nothing was recorded and the admin is still counted.
    assert roster.collect_events() == []
    assert roster.admin_ids == [only]


def test_roster_ignores_accounts_it_does_not_count():
    roster = AdminRoster(admin_ids=[], at=AT)
    roster.collect_events()

    roster.count(uuid4(), False, AT)  # a user deactivated, or a deactivated admin demoted

    assert roster.collect_events() == []
