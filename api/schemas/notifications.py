"""Notification answers."""

from uuid import UUID

import msgspec

from api.schemas.common import Instant


class Notification(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    type: str
    title: str
    message: str
    is_read: bool
    created_at: Instant


class UnreadCount(msgspec.Struct, forbid_unknown_fields=True):
    count: int
