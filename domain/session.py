"""Session aggregate: one running copy of the client software on one device."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from enum import Enum
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.license import License
from domain.refusals import SecurityViolationError, SessionExpiredError

SESSION_TTL = timedelta(hours=1)
ROTATION_GRACE = timedelta(seconds=60)
"""How long the token a heartbeat replaced still works: the client may never have received the new one."""


class EndReason(Enum):
    LOGOUT = "logout"
    DEACTIVATED = "deactivated"
    REVOKED = "revoked"
    EXPIRED = "expired"
    HIJACK = "hijack"


class Session(Aggregate):
    """Started by activation (or Lockence init), kept alive by heartbeats, ended once.

    Only a hash of the token is kept: the token itself is shown to the client once.
    """

    @event("Started")
    def __init__(self, id: UUID, license_id: UUID, product_id: UUID, hwid: str, token_hash: str,  # noqa: A002
                 expires_at: datetime, ip: str | None, at: datetime) -> None:
        self.license_id = license_id
        self.product_id = product_id
        self.hwid = hwid
        self.ip = ip
        self.token_hash = token_hash
        self.expires_at = expires_at
        self.started_at = at
        self.ended = False
        self.previous_token_hash: str | None = None
        self.rotated_at = at

    def require_live(self, token_hash: str, hwid: str | None, license: License, now: datetime) -> None:
        """Guards, most decisive first: unknown token, another license's, ended, lapsed, unbound or revoked →
        SESSION_EXPIRED; other device → hijack. A session lives only while its device is bound and it began after
        the license's last revoke, so a deactivation, HWID reset or revoke ends it on the very next call."""
        if not self._holds_token(token_hash, now):
            raise SessionExpiredError()
        if license.id != self.license_id:  # a live token shown with another license's key: to be signed for it
            raise SessionExpiredError("Session belongs to another license", security_event="tamper_detected")
        if not self.is_running(license, now):
            raise SessionExpiredError()
        if hwid is not None and hwid != self.hwid:
            raise SecurityViolationError("Session belongs to another device", security_event="session_hijack")

    def is_running(self, license: License, now: datetime) -> bool:
        """Not ended, not lapsed, its device bound since before it began, and begun after the last revoke."""
        return not self.ended and self.expires_at > now and license.holds_session(self.hwid, self.started_at)

    def runs_for(self, license: License, hwid: str | None, now: datetime) -> bool:
        """Whether a call naming this license and device, without a token, may keep this session alive."""
        return license.id == self.license_id and hwid == self.hwid and self.is_running(license, now)

    def moved_to(self, ip: str | None) -> bool:
        """Whether a call comes from another address than the one the session began at (`ip_mismatch`).
        Sessions loaded from a snapshot taken before addresses were kept know none, and never move."""
        started_at_ip = getattr(self, "ip", None)
        return bool(ip and started_at_ip and ip != started_at_ip)

    def _holds_token(self, token_hash: str, now: datetime) -> bool:
        current = hmac.compare_digest(token_hash, self.token_hash)
        previous = self.previous_token_hash is not None and hmac.compare_digest(token_hash, self.previous_token_hash)
        return current or (previous and now - self.rotated_at <= ROTATION_GRACE)

    def keep_alive(self, token_hash: str, at: datetime) -> None:
        """A heartbeat: extend the expiry and (for LicenseCM) rotate the token."""
        self._keep_alive(token_hash=token_hash, expires_at=at + SESSION_TTL, at=at)

    @event("HeartbeatReceived")
    def _keep_alive(self, token_hash: str, expires_at: datetime, at: datetime) -> None:
        if token_hash != self.token_hash:
            self.previous_token_hash = self.token_hash
            self.rotated_at = at
        self.token_hash = token_hash
        self.expires_at = expires_at

    def closing_reason(self, license: License | None, product_deleted: bool, now: datetime) -> EndReason | None:
        """Why this session can no longer run, most decisive first, from the facts `require_live` refuses a call on: a
        missing or deleted license or product, or a revoke → REVOKED; device released → DEACTIVATED; no heartbeat
        for SESSION_TTL → EXPIRED; None if ended or live. From the aggregates alone, as a read model may be stale."""
        if self.ended:
            return None
        if license is None or license.is_deleted or product_deleted or license.revoked_session(self.started_at):
            return EndReason.REVOKED
        if not license.holds_session(self.hwid, self.started_at):
            return EndReason.DEACTIVATED
        if self.expires_at <= now:
            return EndReason.EXPIRED
        return None

    def end(self, reason: EndReason, at: datetime, note: str = "") -> bool:
        """End the session once; `note` says why in words (an admin's revoke reason). False if it had ended."""
        if self.ended:
            return False
        self._end(reason=reason, at=at, note=note)
        return True

    class Ended(Aggregate.Event):
        """The session ended once, for `reason`; `note` is an admin's reason in words (version 2 added it)."""

        reason: EndReason
        at: datetime
        note: str = ""
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["note"] = ""

    @event(Ended)
    def _end(self, reason: EndReason, at: datetime, note: str = "") -> None:
        self.ended = True
