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
    EmailAlreadyRegisteredError,
    Role,
)
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
