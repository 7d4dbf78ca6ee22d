"""Account commands: register, authenticate, change role, (de)activate, change a password, retire a token."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.utils import get_topic

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
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
from domain.errors import DomainError
from domain.ids import email_index_id, normalise_email

if TYPE_CHECKING:
    from eventsourcing.application import LocalNotificationLog

REGISTERED = get_topic(Account.Registered)


class InvalidCredentialsError(DomainError):
    """Raised when an email and password do not match an account."""


class WrongPasswordError(DomainError):
    """Raised when a signed-in account's current password, given to change it, is not its password."""


class AccountCommands(CommandsBase):
    """The account part of the Ledger."""

    notification_log: LocalNotificationLog

    def register_account(self, email: str, password: str, display_name: str, at: datetime) -> Receipt:
        """Register an account; the first one on an empty server becomes the admin."""
        return self._register(normalise_email(email), self.passwords.hash(password), display_name, at)

    @retry_on_conflict
    def _register(self, email: str, password_hash: str, display_name: str, at: datetime) -> Receipt:
        # The index aggregates are created in the same save as the account: a racing
        # registration conflicts on version 1 of one of them, and its retry sees why.
        if self._exists(email_index_id(email)):
            raise EmailAlreadyRegisteredError(email)
        is_first = not self._exists(FirstAccountSeat.create_id())
        account = Account(email, password_hash, display_name, Role.ADMIN if is_first else Role.USER, at)
        claims: list[object] = [EmailIndex(email=email, account_id=account.id)]
        if is_first:
            claims += [FirstAccountSeat(account_id=account.id), AdminRoster(admin_ids=[account.id], at=at)]
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
        """Change an account's role or activity; no change may leave the server without an active admin
        (LastAdminError), which the admin roster, saved with every change to who is one, decides."""
        account = self.get_account(account_id)
        was_admin = account.is_active_admin
        if role is not None:
            account.change_role(role, at)
        if is_active is not None:
            account.set_active(is_active, at)
        if account.is_active_admin == was_admin:
            return Receipt(account.id, self.record(account))
        roster = self._admin_roster(at)
        roster.count(account.id, account.is_active_admin, at)
        return Receipt(account.id, self.record(account, roster))

    def change_account_by_email(self, email: str, role: Role | None, is_active: bool | None,
                                at: datetime) -> Receipt:
        """`change_account` for the account with this email (the CLI's `keyledger admin ...`)."""
        account = self._account_for_email(normalise_email(email))
        if account is None:
            raise AccountNotFoundError(email)
        return self.change_account(account.id, role, is_active, at)

    def promote_account(self, email: str, at: datetime) -> Receipt:
        """Make the account with this email an admin."""
        return self.change_account_by_email(email, Role.ADMIN, None, at)

    @retry_on_conflict
    def change_password(self, account_id: UUID, current_password: str, new_password: str, at: datetime) -> Receipt:
        """Change an account's password, given its current one; the account's tokens end with it (the accounts
        read model counts the change, and a token made before it no longer matches)."""
        account = self.get_account(account_id)
        account.require_active()
        if not self.passwords.verify(account.password_hash, current_password):
            raise WrongPasswordError(account_id)
        account.change_password(self.passwords.hash(new_password), at)
        return Receipt(account.id, self.record(account))

    @retry_on_conflict
    def retire_token(self, account_id: UUID, jti: str, expires_at: datetime, at: datetime) -> Receipt:
        """Record that a refreshed token opens nothing any more, on every API process."""
        account = self.get_account(account_id)
        account.retire_token(jti, expires_at, at)
        return Receipt(account.id, self.record(account))

    def _admin_roster(self, at: datetime) -> AdminRoster:
        """The roster; on a store written before there was one, established from the accounts themselves
        (a racing establishment conflicts on its version 1, and the retry loads the winner's)."""
        roster = self._optional(AdminRoster.create_id(), AdminRoster)
        return roster if roster is not None else AdminRoster(admin_ids=self._active_admin_ids(), at=at)

    def _active_admin_ids(self) -> list[UUID]:
        """Every active admin, read off the accounts registered so far (once per store: see above)."""
        admin_ids: list[UUID] = []
        log, start = self.notification_log, 1
        while page := log.select(start, log.section_size, topics=[REGISTERED]):
            for notification in page:
                account = self._optional(notification.originator_id, Account, copy=False)
                if account is not None and account.is_active_admin:
                    admin_ids.append(account.id)
            start = page[-1].id + 1
        return admin_ids

    def _account_for_email(self, email: str) -> Account | None:
        index_id = email_index_id(email)
        if not self._exists(index_id):
            return None
        index: EmailIndex = self.repository.get(index_id)
        return self.get_account(index.account_id)


__all__ = ["AccountCommands", "AccountDeactivatedError", "InvalidCredentialsError", "LastAdminError",
           "WrongPasswordError"]
