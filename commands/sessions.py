"""Session commands: revoke a session or every session of a license; record the end of one that can no longer run."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.license import License, LicenseNotFoundError
from domain.product import Product
from domain.errors import NotFoundError
from domain.session import EndReason, Session


class SessionNotFoundError(NotFoundError):
    """Raised when no session has the given id."""


class SessionCommands(CommandsBase):
    """The session part of the Ledger."""

    @retry_on_conflict
    def revoke_session(self, session_id: UUID, reason: str, at: datetime) -> Receipt:
        """End one session (`revoked`, with the admin's reason); the next call with its token is refused on
        every process, since each loads the session afresh. A session that had ended stays as it was."""
        session = self._load(session_id, Session, SessionNotFoundError)
        session.end(EndReason.REVOKED, at, note=reason)
        return Receipt(session.id, self.record(session))

    @retry_on_conflict
    def revoke_license_sessions(self, license_id: UUID, reason: str, at: datetime) -> Receipt:
        """End every session of a license begun until now (`License.SessionsRevoked`): the next call of each
        is refused at once; the sweeper records each one's `Session.Ended` (revoked)."""
        license = self._load(license_id, License, LicenseNotFoundError)
        if license.is_deleted:
            raise LicenseNotFoundError(license_id)
        license.revoke_sessions(reason, at)
        return Receipt(license.id, self.record(license))

    @retry_on_conflict
    def end_hijacked_session(self, session_id: UUID, at: datetime) -> None:
        """End a session whose token was presented from another device (`hijack`), unless it ended already."""
        session: Session | None = self._optional(session_id, Session)
        if session is not None and not session.ended:
            session.end(EndReason.HIJACK, at)
            self.record(session)

    @retry_on_conflict
    def close_session(self, session_id: UUID, at: datetime) -> EndReason | None:
        """Record `Session.Ended` with the reason a session no longer runs; None if it still runs, or ended. A client
        call meets the same facts at once (`Session.require_live`); this records them. A heartbeat racing it
        conflicts on the session's version, so the retry sees the extended expiry."""
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
