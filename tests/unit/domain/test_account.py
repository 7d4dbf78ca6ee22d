"""Account aggregate and its index aggregates: given → when → then, with replayed state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest

from domain.account import Account, AccountDeactivatedError, EmailIndex, FirstAccountSeat, Role
from domain.ids import email_index_id, first_account_seat_id

AT = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def registered(role: Role = Role.USER) -> tuple[Account, list[Any]]:
    account = Account("vendor@example.com", "hash-1", "Vendor", role, AT)
    return account, account.collect_events()


def replay(events: list[Any]) -> Account:
    aggregate = None
    for domain_event in events:
        aggregate = domain_event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def state(aggregate: Account) -> dict[str, Any]:
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
