"""Auth requests and answers."""

from typing import Annotated, Any
from uuid import UUID

import msgspec

from api.schemas.common import Email, Instant, Name, Password
from domain.account import Role


class AccountRegister(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: Name | None = None


class AccountLogin(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=256)]


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(max_length=256)]
    new_password: Password


class User(msgspec.Struct, forbid_unknown_fields=True):
    """The spec's `user` object (never the password hash: the read model does not hold it)."""

    id: UUID
    email: str
    display_name: str
    role: Role
    is_active: bool
    created_at: Instant


class SignedIn(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    user: User


class Token(msgspec.Struct, forbid_unknown_fields=True):
    token: str


def user_of(account: dict[str, Any]) -> User:
    """The spec's `user` from an accounts read-model row."""
    return msgspec.convert({name: account[name] for name in User.__struct_fields__}, User)
