"""Inbox commands: mark one or all notifications read."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.ids import inbox_id
from domain.inbox import Inbox


class InboxCommands(CommandsBase):
    """The notification-reading part of the Ledger."""

    @retry_on_conflict
    def mark_notification_read(self, account_id: UUID, notification_id: UUID, at: datetime) -> Receipt:
        inbox = self._inbox(account_id, at)
        inbox.mark_read(notification_id, at)
        return Receipt(notification_id, self.record(inbox))

    @retry_on_conflict
    def mark_all_notifications_read(self, account_id: UUID, at: datetime) -> Receipt:
        inbox = self._inbox(account_id, at)
        inbox.mark_all_read(at)
        return Receipt(inbox.id, self.record(inbox))

    def _inbox(self, account_id: UUID, at: datetime) -> Inbox:
        if self._exists(inbox_id(account_id)):
            return self.repository.get(inbox_id(account_id))
        return Inbox(account_id, at)
