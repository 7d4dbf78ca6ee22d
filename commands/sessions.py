"""Session commands: record the end of a session that can no longer run (the sweeper's command)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.base import CommandsBase
from commands.retry import retry_on_conflict
from domain.license import License
from domain.product import Product
from domain.session import EndReason, Session


class SessionCommands(CommandsBase):
    """The session part of the Ledger."""

    @retry_on_conflict
    def end_hijacked_session(self, session_id: UUID, at: datetime) -> None:
        """End a session whose token was presented from another device (`hijack`), unless it ended already."""
        session: Session | None = self._optional(session_id, Session)
        if session is not None and not session.ended:
            session.end(EndReason.HIJACK, at)
            self.record(session)

    @retry_on_conflict
    def close_session(self, session_id: UUID, at: datetime) -> EndReason | None:
        """Record `Session.Ended` with the reason a session no longer runs; None if it still runs, or ended.

        A client call already meets the same facts at once (`Session.require_live`); this records them.
        A heartbeat racing it conflicts on the session's version, so the retry sees the extended expiry.
        """
        session: Session | None = self._optional(session_id, Session)
        if session is None:
            return None
        license = self._optional(session.license_id, License, copy=False)
        product = self._optional(session.product_id, Product, copy=False)
        reason = session.closing_reason(license, product is None or product.is_deleted, at)
        if reason is not None:
            # A lapse has a moment of its own: a sweep that comes late (a server that was down, the first
            # sweep over an old database) records when the session lapsed, not when it was noticed.
            session.end(reason, min(at, session.expires_at) if reason is EndReason.EXPIRED else at)
            self.record(session)
        return reason
