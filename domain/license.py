"""License aggregate: one key for one product, its limits, status and bound devices."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import ConflictError, InvalidValueError, NotFoundError
from domain.ids import LicenseKey, license_id_for_key
from domain.refusals import HwidMismatchError, MaxUsesExceededError


class LicenseType(Enum):
    TRIAL = "trial"
    SUBSCRIPTION = "subscription"
    LIFETIME = "lifetime"


class LicenseStatus(Enum):
    ACTIVE = "active"
    EXPIRED = "expired"
    SUSPENDED = "suspended"


class LicenseNotFoundError(NotFoundError):
    """Raised when no license has the key or id, it was deleted, or belongs to another vendor."""


class MaxUsesBelowActivationsError(ConflictError):
    """Raised when max_uses would drop below the number of devices already activated."""


TRIAL_DAYS = 14


def default_expiry(license_type: LicenseType, expires_at: datetime | None, at: datetime) -> datetime | None:
    """A trial without an explicit end runs TRIAL_DAYS; other types keep what they were given."""
    if license_type is LicenseType.TRIAL and expires_at is None:
        return at + timedelta(days=TRIAL_DAYS)
    return expires_at


def check_terms(license_type: LicenseType, max_uses: int, expires_at: datetime | None) -> None:
    """The rules every license's terms obey, at issue and on every update."""
    if max_uses < 1:
        raise InvalidValueError("max_uses must be at least 1")
    if license_type is LicenseType.LIFETIME and expires_at is not None:
        raise InvalidValueError("a lifetime license never expires: leave expires_at empty")


@dataclass(frozen=True, kw_only=True)
class LicenseTerms:
    """What a license grants: its type, how many devices, whether it is locked to them, when it ends, the
    vendor's metadata and the Lockence username. Defaults are a create's (docs/decisions/0006)."""

    license_type: LicenseType = LicenseType.SUBSCRIPTION
    max_uses: int = 1
    hwid_locked: bool = True
    expires_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    username: str | None = None

    def as_issued(self, at: datetime) -> LicenseTerms:
        """These terms as issued at `at`: a trial's default end filled in, every rule checked."""
        expires_at = default_expiry(self.license_type, self.expires_at, at)
        check_terms(self.license_type, self.max_uses, expires_at)
        return replace(self, expires_at=expires_at)


class License(Aggregate):
    """The state the licensing rules need; counters and history live in read models."""

    class_version = 2  # v2 keeps when each device was bound (`bound_at`), so a re-bound device's old sessions stay dead

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A v1 snapshot knows no binding times: its devices count as bound before any of their sessions."""
        state["bound_at"] = {}

    @event("Issued")
    def __init__(
        self,
        key: LicenseKey,
        product_id: UUID,
        owner_id: UUID,
        license_type: LicenseType,
        max_uses: int,
        hwid_locked: bool,
        expires_at: datetime | None,
        metadata: dict[str, Any],
        batch_id: UUID | None,
        at: datetime,
        username: str | None = None,
    ) -> None:
        self.key = key
        self.username = username
        self.sessions_revoked_at: datetime | None = None
        self.product_id = product_id
        self.owner_id = owner_id
        self.license_type = license_type
        self.max_uses = max_uses
        self.hwid_locked = hwid_locked
        self.expires_at = expires_at
        self.metadata = metadata
        self.is_suspended = False
        self.is_deleted = False
        self.expiry_recorded = False
        self.devices: list[str] = []
        self.bound_at: dict[str, datetime] = {}

    @classmethod
    def issue(cls, key: LicenseKey, product_id: UUID, owner_id: UUID, terms: LicenseTerms, batch_id: UUID | None,
              at: datetime) -> License:
        """A new license for `key` on these terms (already `as_issued`)."""
        return cls(key=key, product_id=product_id, owner_id=owner_id, license_type=terms.license_type,
                   max_uses=terms.max_uses, hwid_locked=terms.hwid_locked, expires_at=terms.expires_at,
                   metadata=dict(terms.metadata), batch_id=batch_id, at=at, username=terms.username)

    @staticmethod
    def create_id(key: str) -> UUID:
        return license_id_for_key(key)

    def require_visible_to(self, actor_id: UUID, is_admin: bool) -> None:
        """Tenancy: another vendor's license is indistinguishable from a missing one."""
        if self.is_deleted or not (is_admin or self.owner_id == actor_id):
            raise LicenseNotFoundError(self.id)

    def status_at(self, now: datetime) -> LicenseStatus:
        if self.is_suspended:
            return LicenseStatus.SUSPENDED
        if self.expires_at is not None and self.expires_at <= now:
            return LicenseStatus.EXPIRED
        return LicenseStatus.ACTIVE

    def suspend(self, reason: str, at: datetime) -> None:
        if not self.is_suspended:
            self._suspend(reason=reason, at=at)

    @event("Suspended")
    def _suspend(self, reason: str, at: datetime) -> None:
        self.is_suspended = True

    def reinstate(self, at: datetime) -> None:
        if self.is_suspended:
            self._reinstate(at=at)

    @event("Reinstated")
    def _reinstate(self, at: datetime) -> None:
        self.is_suspended = False

    def change_limits(self, max_uses: int, hwid_locked: bool, at: datetime) -> None:
        check_terms(self.license_type, max_uses, self.expires_at)
        if max_uses < len(self.devices):
            raise MaxUsesBelowActivationsError(self.id)
        if (max_uses, hwid_locked) != (self.max_uses, self.hwid_locked):
            self._change_limits(max_uses=max_uses, hwid_locked=hwid_locked, at=at)

    @event("LimitsChanged")
    def _change_limits(self, max_uses: int, hwid_locked: bool, at: datetime) -> None:
        self.max_uses = max_uses
        self.hwid_locked = hwid_locked

    def change_expiry(self, expires_at: datetime | None, at: datetime) -> None:
        check_terms(self.license_type, self.max_uses, expires_at)
        if expires_at != self.expires_at:
            self._change_expiry(expires_at=expires_at, at=at)

    @event("ExpiryChanged")
    def _change_expiry(self, expires_at: datetime | None, at: datetime) -> None:
        self.expires_at = expires_at
        self.expiry_recorded = False

    def change_metadata(self, metadata: dict[str, Any], at: datetime) -> None:
        if metadata != self.metadata:
            self._change_metadata(metadata=metadata, at=at)

    @event("MetadataChanged")
    def _change_metadata(self, metadata: dict[str, Any], at: datetime) -> None:
        self.metadata = metadata

    def record_expiry(self, at: datetime) -> bool:
        """Record the moment the sweeper saw the license lapse; once per expiry date."""
        if self.expiry_recorded or self.is_deleted or self.status_at(at) is not LicenseStatus.EXPIRED:
            return False
        self._expire(expired_at=self.expires_at, at=at)
        return True

    @event("Expired")
    def _expire(self, expired_at: datetime | None, at: datetime) -> None:
        self.expiry_recorded = True

    def activate_device(self, hwid: str, at: datetime) -> bool:
        """Bind a new device (True), or accept a bound one again (False); never past max_uses."""
        if hwid in self.devices:
            return False
        if len(self.devices) >= self.max_uses:
            raise MaxUsesExceededError()
        self._activate_device(hwid=hwid, at=at)
        return True

    @event("ActivatedOnDevice")
    def _activate_device(self, hwid: str, at: datetime) -> None:
        self.devices = [*self.devices, hwid]
        self.bound_at = {**self.bound_at, hwid: at}

    def deactivate_device(self, hwid: str, at: datetime) -> None:
        """Free a device's slot; a device that holds none is a mismatch."""
        if hwid not in self.devices:
            raise HwidMismatchError("This device is not activated for the license")
        self._deactivate_device(hwid=hwid, at=at)

    @event("DeactivatedOnDevice")
    def _deactivate_device(self, hwid: str, at: datetime) -> None:
        self.devices = [device for device in self.devices if device != hwid]
        self.bound_at = {device: bound for device, bound in self.bound_at.items() if device != hwid}

    def holds_session(self, hwid: str, started_at: datetime) -> bool:
        """Whether a session begun on `hwid` at `started_at` may still run: the device is bound, and has been
        since before the session began (a device released and bound again does not bring its old sessions back)."""
        bound = hwid in self.devices and started_at >= self.bound_at.get(hwid, started_at)
        return bound and not self.revoked_session(started_at)

    def revoked_session(self, started_at: datetime) -> bool:
        """Whether the license's last session revoke came at or after a session begun at `started_at`."""
        return self.sessions_revoked_at is not None and started_at <= self.sessions_revoked_at

    @event("SessionsRevoked")
    def revoke_sessions(self, reason: str, at: datetime) -> None:
        self.sessions_revoked_at = at

    def change_username(self, username: str | None, at: datetime) -> None:
        if username != self.username:
            self._change_username(username=username, at=at)

    @event("UsernameChanged")
    def _change_username(self, username: str | None, at: datetime) -> None:
        self.username = username

    def reset_hwid(self, at: datetime) -> None:
        self._reset_hwid(released=list(self.devices), at=at)

    @event("HwidReset")
    def _reset_hwid(self, released: list[str], at: datetime) -> None:
        self.devices = []
        self.bound_at = {}

    def delete(self, at: datetime) -> None:
        if not self.is_deleted:
            self._delete(at=at)

    @event("Deleted")
    def _delete(self, at: datetime) -> None:
        self.is_deleted = True


class Keep(Enum):
    """Marks a field an update leaves as it is (None can mean "clear", e.g. expires_at)."""

    KEEP = "keep"


KEEP = Keep.KEEP
