"""Account commands on SQLite and PostgreSQL: roles, unique emails, sign-in, and their races."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from commands.accounts import InvalidCredentialsError
from domain.account import (
    Account,
    AccountDeactivatedError,
    AccountNotFoundError,
    AdminRoster,
    EmailAlreadyRegisteredError,
    EmailIndex,
    FirstAccountSeat,
    LastAdminError,
    Role,
)
from keyledger.wiring import build_runtime
from tests.integration.conftest import race


def test_first_account_is_admin_and_the_second_a_user(ledger, clock):
    first = ledger.register_account("first@example.com", "secret123", "First", clock())
    second = ledger.register_account("second@example.com", "secret123", "Second", clock())

    assert ledger.get_account(first.id).role is Role.ADMIN
    assert ledger.get_account(second.id).role is Role.USER
    assert second.position > first.position


def test_email_is_stored_normalised(ledger, clock):
    receipt = ledger.register_account("  Vendor@Example.COM ", "secret123", "Vendor", clock())

    assert ledger.get_account(receipt.id).email == "vendor@example.com"


def test_duplicate_email_in_another_case_is_refused(ledger, clock):
    ledger.register_account("vendor@example.com", "secret123", "Vendor", clock())
    position = ledger.position()

    with pytest.raises(EmailAlreadyRegisteredError):
        ledger.register_account("VENDOR@example.com", "other-password", "Impostor", clock())

    # Check nothing was written for the refused registration.
    assert ledger.position() == position


def test_authenticate_returns_the_account_for_the_right_password(ledger, clock):
    receipt = ledger.register_account("vendor@example.com", "secret123", "Vendor", clock())

    account = ledger.authenticate("Vendor@example.com", "secret123")

    assert isinstance(account, Account) and account.id == receipt.id


@pytest.mark.parametrize("email, password", [("vendor@example.com", "wrong-password"),
                                             ("nobody@example.com", "secret123")])
def test_authenticate_with_wrong_credentials_is_refused(ledger, clock, email, password):
    ledger.register_account("vendor@example.com", "secret123", "Vendor", clock())

    with pytest.raises(InvalidCredentialsError):
        ledger.authenticate(email, password)


def test_deactivated_account_cannot_authenticate_until_reactivated(ledger, clock):
    ledger.register_account("admin@example.com", "secret123", "Admin", clock())
    vendor = ledger.register_account("vendor@example.com", "secret123", "Vendor", clock())

    ledger.change_account(vendor.id, None, False, clock())

    with pytest.raises(AccountDeactivatedError):
        ledger.authenticate("vendor@example.com", "secret123")
    ledger.change_account(vendor.id, None, True, clock.advance(minutes=1))
    assert ledger.authenticate("vendor@example.com", "secret123").id == vendor.id


def test_role_change_and_promotion_are_recorded(ledger, clock):
    ledger.register_account("admin@example.com", "secret123", "Admin", clock())
    vendor = ledger.register_account("vendor@example.com", "secret123", "Vendor", clock())

    ledger.promote_account("VENDOR@example.com", clock())
    assert ledger.get_account(vendor.id).role is Role.ADMIN

    ledger.change_account(vendor.id, Role.USER, None, clock() + timedelta(seconds=1))
    assert ledger.get_account(vendor.id).role is Role.USER


def test_changing_an_unknown_account_is_not_found(ledger, clock):
    with pytest.raises(AccountNotFoundError):
        ledger.change_account(uuid4(), Role.ADMIN, None, clock())
    with pytest.raises(AccountNotFoundError):
        ledger.promote_account("nobody@example.com", clock())


@pytest.mark.parametrize("round_", range(3))
def test_racing_registrations_of_one_email_have_one_winner(ledger, clock, round_):
    email = f"race{round_}@example.com"
    outcomes = race(
        lambda: ledger.register_account(email, "secret123", "One", clock()),
        lambda: ledger.register_account(email.upper(), "secret123", "Two", clock()),
    )

    winners = [value for kind, value in outcomes if kind == "ok"]
    losers = [value for kind, value in outcomes if kind == "error"]
    assert len(winners) == 1, outcomes
    # Check the loser gets the domain's verdict, not the store's conflict.
    assert len(losers) == 1 and isinstance(losers[0], EmailAlreadyRegisteredError), outcomes
    assert ledger.authenticate(email, "secret123").id == winners[0].id


def test_racing_first_registrations_make_exactly_one_admin(ledger, clock):
    emails = [f"vendor{i}@example.com" for i in range(10)]

    outcomes = race(*[lambda email=email: ledger.register_account(email, "secret123", email, clock())
                      for email in emails])

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    roles = [ledger.get_account(receipt.id).role for _, receipt in outcomes]
    assert roles.count(Role.ADMIN) == 1 and roles.count(Role.USER) == 9


# --- No change leaves the server without an active admin ----------------------------------------

def active_admins(ledger, *account_ids):
    return [i for i in account_ids if ledger.get_account(i).is_active_admin]


@pytest.mark.parametrize("role, is_active", [(Role.USER, None), (None, False), (Role.USER, False)])
def test_the_only_admin_can_neither_step_down_nor_be_deactivated(ledger, clock, role, is_active):
    admin = ledger.register_account("admin@example.com", "secret123", "Admin", clock()).id
    ledger.register_account("vendor@example.com", "secret123", "Vendor", clock())
    position = ledger.position()

    with pytest.raises(LastAdminError):
        ledger.change_account(admin, role, is_active, clock())

    # Check nothing was written: the admin is still an active admin.
    assert ledger.position() == position
    assert ledger.get_account(admin).is_active_admin


def test_an_admin_may_step_down_while_another_remains_active(ledger, clock):
    first = ledger.register_account("admin@example.com", "secret123", "Admin", clock()).id
    second = ledger.register_account("second@example.com", "secret123", "Second", clock()).id
    ledger.promote_account("second@example.com", clock())

    ledger.change_account(first, Role.USER, None, clock())

    assert active_admins(ledger, first, second) == [second]
    with pytest.raises(LastAdminError):
        ledger.change_account(second, None, False, clock())


def test_a_deactivated_admin_is_not_counted_until_reactivated(ledger, clock):
    first = ledger.register_account("admin@example.com", "secret123", "Admin", clock()).id
    second = ledger.register_account("second@example.com", "secret123", "Second", clock()).id
    ledger.change_account(second, Role.ADMIN, None, clock())
    ledger.change_account(second, None, False, clock())

    # Check the deactivated admin does not count, and may be demoted while inactive.
    with pytest.raises(LastAdminError):
        ledger.change_account(first, Role.USER, None, clock())
    ledger.change_account(second, Role.USER, None, clock())
    ledger.change_account_by_email("SECOND@example.com", Role.ADMIN, True, clock())
    ledger.change_account(first, Role.USER, None, clock())
    assert active_admins(ledger, first, second) == [second]


def legacy_account(ledger, email, role, clock, is_active=True, first=False):
    """An account as a store written before the admin roster existed holds it: no roster is saved."""
    account = Account(email, ledger.passwords.hash("secret123"), email, role, clock())
    account.set_active(is_active, clock())
    claims = [EmailIndex(email=email, account_id=account.id)] + ([FirstAccountSeat(account_id=account.id)] if first
                                                                  else [])
    ledger.save(account, *claims)
    return account.id


def test_a_store_without_a_roster_establishes_it_from_its_accounts(ledger, clock):
    first = legacy_account(ledger, "first@example.com", Role.ADMIN, clock, first=True)
    legacy_account(ledger, "user@example.com", Role.USER, clock)
    legacy_account(ledger, "gone@example.com", Role.ADMIN, clock, is_active=False)
    second = legacy_account(ledger, "second@example.com", Role.ADMIN, clock)
    assert AdminRoster.create_id() not in ledger.repository

    ledger.change_account(second, Role.USER, None, clock())

    # Check the roster now counts exactly the accounts that were active admins, less the one demoted.
    assert ledger.repository.get(AdminRoster.create_id()).admin_ids == [first]
    with pytest.raises(LastAdminError):
        ledger.change_account(first, None, False, clock())


def test_a_store_left_without_an_admin_gets_one_back_by_reactivation(ledger, clock):
    legacy_account(ledger, "first@example.com", Role.ADMIN, clock, is_active=False, first=True)

    ledger.change_account_by_email("first@example.com", None, True, clock())

    assert ledger.repository.get(AdminRoster.create_id()).admin_ids == [ledger.authenticate(
        "first@example.com", "secret123").id]


@pytest.fixture
def other_process(settings, clock):
    """A second Ledger on the same store, as another API process has: it shares no lock or cache with ours."""
    runtime = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    yield runtime.ledger
    runtime.close()


@pytest.mark.parametrize("legacy", [False, True], ids=["roster", "roster-not-yet-established"])
@pytest.mark.parametrize("round_", range(3))
def test_two_admins_demoting_each_other_at_once_leave_one(ledger, other_process, clock, legacy, round_):
    if legacy:
        one = legacy_account(ledger, "one@example.com", Role.ADMIN, clock, first=True)
        two = legacy_account(ledger, "two@example.com", Role.ADMIN, clock)
    else:
        one = ledger.register_account("one@example.com", "secret123", "One", clock()).id
        two = ledger.register_account("two@example.com", "secret123", "Two", clock()).id
        ledger.promote_account("two@example.com", clock())

    outcomes = race(lambda: ledger.change_account(two, Role.USER, None, clock()),
                    lambda: other_process.change_account(one, None, False, clock()))

    # Check one winner, and the loser gets the domain's refusal (not a store conflict).
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    assert [type(value) for kind, value in outcomes if kind == "error"] == [LastAdminError]
    assert len(active_admins(ledger, one, two)) == 1
    assert ledger.repository.get(AdminRoster.create_id()).admin_ids == active_admins(ledger, one, two)
