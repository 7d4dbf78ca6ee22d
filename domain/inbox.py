"""Inbox aggregate: what an account has read of its notifications."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.ids import inbox_id


class Inbox(Aggregate):
    """Reads are facts too: they go to the store, and the notifications projection applies them."""

    @event("Opened")
    def __init__(self, account_id: UUID, at: datetime) -> None:
        self.account_id = account_id

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return inbox_id(account_id)

    @event("NotificationRead")
    def mark_read(self, notification_id: UUID, at: datetime) -> None:
        pass

    @event("AllRead")
    def mark_all_read(self, at: datetime) -> None:
        pass
