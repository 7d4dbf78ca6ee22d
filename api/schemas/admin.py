"""Admin requests and answers."""

import msgspec

from api.schemas.auth import User
from api.schemas.common import Instant, Pagination
from domain.account import Role


class AccountUpdate(msgspec.Struct, forbid_unknown_fields=True):
    role: Role | None = None
    is_active: bool | None = None


class UserPage(msgspec.Struct, forbid_unknown_fields=True):
    users: list[User]
    pagination: Pagination


class QuarantinedEvent(msgspec.Struct, forbid_unknown_fields=True):
    """An event a read model passed over, with the error it raised (docs/decisions/0018-projection-quarantine.md)."""

    notification_id: int
    topic: str
    error: str
    at: Instant


class ReadModel(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    position: int
    quarantined: list[QuarantinedEvent]
    behind: int


class ReadModels(msgspec.Struct, forbid_unknown_fields=True):
    """How far each read model has got against the event log's head."""

    head: int
    read_models: list[ReadModel]
