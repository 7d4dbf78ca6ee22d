"""Account commands: register, authenticate, change role, (de)activate."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.account import (
    Account,
    AccountDeactivatedError,
    AccountNotFoundError,
    EmailAlreadyRegisteredError,
    EmailIndex,
    FirstAccountSeat,
    Role,
)
from domain.errors import DomainError
from domain.ids import email_index_id, normalise_email


class InvalidCredentialsError(DomainError):
    """Raised when an email and password do not match an account."""


class AccountCommands(CommandsBase):
    """The account part of the Ledger."""

    def register_account(self, email: str, password: str, display_name: str, at: datetime) -> Receipt:
        """Register an account; the first one on an empty server becomes the admin."""
        return self._register(normalise_email(email), self.passwords.hash(password), display_name, at)

    @retry_on_conflict
    def _register(self, email: str, password_hash: str, display_name: str, at: datetime) -> Receipt:
        # Both index aggregates are created in the same save as the account: a racing
        # registration conflicts on version 1 of one of them, and its retry sees why.
        if self._exists(email_index_id(email)):
            raise EmailAlreadyRegisteredError(email)
        is_first = not self._exists(FirstAccountSeat.create_id())
        account = Account(email, password_hash, display_name, Role.ADMIN if is_first else Role.USER, at)
        claims = [EmailIndex(email=email, account_id=account.id)]
        if is_first:
            claims.append(FirstAccountSeat(account_id=account.id))
        return Receipt(account.id, self.record(account, *claims))

    def authenticate(self, email: str, password: str) -> Account:
        """Check a password; an unknown email costs the same hashing work as a wrong password."""
        account = self._account_for_email(normalise_email(email))
        if not self.passwords.verify(account.password_hash if account else None, password) or account is None:
            raise InvalidCredentialsError(email)
        account.require_active()
        return account

    def get_account(self, account_id: UUID) -> Account:
        return self._load(account_id, Account, AccountNotFoundError)

    @retry_on_conflict
    def change_account(self, account_id: UUID, role: Role | None, is_active: bool | None, at: datetime) -> Receipt:
        """An admin's change of another account's role or activity."""
        account = self.get_account(account_id)
        if role is not None:
            account.change_role(role, at)
        if is_active is not None:
            account.set_active(is_active, at)
        return Receipt(account.id, self.record(account))

    def promote_account(self, email: str, at: datetime) -> Receipt:
        """Make the account with this email an admin (the CLI's `admin promote`)."""
        account = self._account_for_email(normalise_email(email))
        if account is None:
            raise AccountNotFoundError(email)
        return self.change_account(account.id, Role.ADMIN, None, at)

    def _account_for_email(self, email: str) -> Account | None:
        index_id = email_index_id(email)
        if not self._exists(index_id):
            return None
        index: EmailIndex = self.repository.get(index_id)
        return self.get_account(index.account_id)


__all__ = ["AccountCommands", "AccountDeactivatedError", "InvalidCredentialsError"]
