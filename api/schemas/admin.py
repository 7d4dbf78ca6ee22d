"""Admin requests."""

import msgspec

from domain.account import Role


class AccountUpdate(msgspec.Struct, forbid_unknown_fields=True):
    role: Role | None = None
    is_active: bool | None = None
