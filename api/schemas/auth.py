"""Auth requests and the user shape."""

from typing import Annotated

import msgspec

from api.schemas.common import Email, Name, Password


class AccountRegister(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: Name | None = None


class AccountLogin(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=256)]


def user_view(account: dict) -> dict:
    """The spec's `user` object (never the password hash: the read model does not hold it)."""
    return {key: account[key] for key in ("id", "email", "display_name", "role", "is_active", "created_at")}
