"""Account aggregate: a vendor (or admin) who signs in to the REST API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import ConflictError, DomainError, NotFoundError
from domain.ids import admin_roster_id, email_index_id, first_account_seat_id


class Role(Enum):
    USER = "user"
    ADMIN = "admin"


class AccountNotFoundError(NotFoundError):
    """Raised when no account has the given id."""


class EmailAlreadyRegisteredError(ConflictError):
    """Raised when an email is already claimed by another account."""


class AccountDeactivatedError(DomainError):
    """Raised when a deactivated account tries to sign in or act."""


class LastAdminError(ConflictError):
    """Raised when a change would leave the server without an active admin."""


class Account(Aggregate):
    """Identity, credentials, role and whether the account may act."""

    @event("Registered")
    def __init__(self, email: str, password_hash: str, display_name: str, role: Role, at: datetime) -> None:
        self.email = email
        self.password_hash = password_hash
        self.display_name = display_name
        self.role = role
        self.is_active = True

    def change_role(self, role: Role, at: datetime) -> None:
        if role != self.role:
            self._change_role(role=role, at=at)

    @event("RoleChanged")
    def _change_role(self, role: Role, at: datetime) -> None:
        self.role = role

    def set_active(self, is_active: bool, at: datetime) -> None:
        if is_active and not self.is_active:
            self._reactivate(at=at)
        elif not is_active and self.is_active:
            self._deactivate(at=at)

    @event("Deactivated")
    def _deactivate(self, at: datetime) -> None:
        self.is_active = False

    @event("Reactivated")
    def _reactivate(self, at: datetime) -> None:
        self.is_active = True

    @event("PasswordChanged")
    def change_password(self, password_hash: str, at: datetime) -> None:
        self.password_hash = password_hash

    @event("TokenRetired")
    def retire_token(self, jti: str, expires_at: datetime, at: datetime) -> None:
        """The token with this id (refreshed) opens nothing any more; the accounts read model keeps the id
        until `expires_at`, when the token would have lapsed anyway. The account itself keeps nothing."""

    def require_active(self) -> None:
        if not self.is_active:
            raise AccountDeactivatedError(self.id)

    @property
    def is_active_admin(self) -> bool:
        return self.is_active and self.role is Role.ADMIN


class EmailIndex(Aggregate):
    """Claims one normalised email for one account; a second claim conflicts on version 1."""

    def __init__(self, email: str, account_id: UUID) -> None:
        self.account_id = account_id

    @staticmethod
    def create_id(email: str) -> UUID:
        return email_index_id(email)


class FirstAccountSeat(Aggregate):
    """Held by the first account ever registered, which therefore becomes the admin."""

    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id

    @staticmethod
    def create_id() -> UUID:
        return first_account_seat_id()


class AdminRoster(Aggregate):
    """The active admins, so that no change leaves the server without one. Every command that makes or unmakes an
    active admin saves the roster with the account: two such changes racing (two admins demoting each other)
    conflict on its version, and the retry is judged on the roster the winner left."""

    @event("Established")
    def __init__(self, admin_ids: list[UUID], at: datetime) -> None:
        self.admin_ids = admin_ids

    @staticmethod
    def create_id() -> UUID:
        return admin_roster_id()

    def count(self, account_id: UUID, is_active_admin: bool, at: datetime) -> None:
        """Take in or let go of an account, after a change that made it an active admin or not."""
        if is_active_admin and account_id not in self.admin_ids:
            self._admit(account_id=account_id, at=at)
        elif not is_active_admin and account_id in self.admin_ids:
            self._require_another_admin(account_id)
            self._dismiss(account_id=account_id, at=at)

    def _require_another_admin(self, account_id: UUID) -> None:
        if not any(admin_id != account_id for admin_id in self.admin_ids):
            raise LastAdminError(account_id)

    @event("Admitted")
    def _admit(self, account_id: UUID, at: datetime) -> None:
        self.admin_ids = [*self.admin_ids, account_id]

    @event("Dismissed")
    def _dismiss(self, account_id: UUID, at: datetime) -> None:
        self.admin_ids = [admin_id for admin_id in self.admin_ids if admin_id != account_id]


@dataclass(frozen=True)
class Actor:
    """Who is asking: the signed-in account and whether it may see every tenant."""

    id: UUID
    is_admin: bool = False
