"""The licensing rules for a client call: an ordered list of guards, one error code each.

Most decisive first, as Keygen orders its validation: a blacklisted caller learns nothing
else; an unknown key is unknown before it is suspended; a suspended license is refused
before its expiry or devices are considered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from uuid import UUID

from domain.blacklist import BlacklistType
from domain.license import License, LicenseStatus
from domain.product import Product
from domain.refusals import (
    BlacklistedError,
    HwidMismatchError,
    LicenseExpiredError,
    LicenseSuspendedError,
    MaxUsesExceededError,
    SecurityViolationError,
    UnknownLicenseError,
    UnknownProductError,
)


PLACEHOLDER_HWIDS = frozenset({
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",  # the SMBIOS UUID of unconfigured boards and many VM templates
    "unknown", "none", "null", "undefined", "default", "to be filled by o.e.m.", "system serial number",
})
"""HWIDs no genuine device reports as its own: what a patched client, an emulator or a blank board sends."""


@lru_cache(maxsize=16384)  # one question a call, about a handful of devices
def spoofed_hwid(hwid: str | None) -> bool:
    """A placeholder HWID, or one of at least 8 characters that is a single character repeated (`0000…`,
    separators aside): the `hwid_spoof_attempt` rule."""
    if not hwid:
        return False
    text = hwid.strip().lower()
    if text in PLACEHOLDER_HWIDS:
        return True
    bare = text.replace("-", "").replace(":", "")
    return len(bare) >= 8 and bare == bare[0] * len(bare)


@dataclass(frozen=True)
class Attempt:
    """Everything the rules look at for one validation or activation."""

    license: License | None
    product: Product | None
    product_id: UUID | None
    hwid: str | None
    blacklist_hit: BlacklistType | None
    now: datetime
    activating: bool = False
    vm_indicators: tuple[str, ...] = ()
    debug_indicators: tuple[str, ...] = ()

    @property
    def detected(self) -> str | None:
        """The security event the call raises even when it is allowed, most telling first: the client's own
        indicators (a call reporting both is recorded as both, projections/security_events.py), then an HWID no
        genuine device reports."""
        if self.debug_indicators:
            return "debug_detected"
        if self.vm_indicators:
            return "vm_detected"
        return "hwid_spoof_attempt" if spoofed_hwid(self.hwid) else None


def not_blacklisted(attempt: Attempt) -> None:
    if attempt.blacklist_hit is not None:
        raise BlacklistedError(attempt.blacklist_hit.value)


def product_live(attempt: Attempt) -> None:
    """The product the call names exists and is enabled, before its keys are looked at: so an unknown product
    is unknown whatever the key, as it is to an encrypted call, which cannot be opened without its product.
    A call naming none (a challenge may) is judged by its key's product, once the key is known."""
    if attempt.product_id is None and attempt.license is None:
        return  # license_exists answers
    product = attempt.product
    if product is None or product.is_deleted or not product.is_active:
        raise UnknownProductError()


def license_exists(attempt: Attempt) -> None:
    """A deleted key, or a key of another product, is as unknown as a key never issued."""
    license = attempt.license
    if license is None or license.is_deleted or (attempt.product_id not in (None, license.product_id)):
        raise UnknownLicenseError()


def not_suspended(attempt: Attempt) -> None:
    if attempt.license.is_suspended:  # type: ignore[union-attr]
        raise LicenseSuspendedError()


def not_expired(attempt: Attempt) -> None:
    if attempt.license.status_at(attempt.now) is LicenseStatus.EXPIRED:  # type: ignore[union-attr]
        raise LicenseExpiredError()


def device_matches(attempt: Attempt) -> None:
    """A locked license answers only to its bound devices; a single-seat lock names the mismatch."""
    license: License = attempt.license  # type: ignore[assignment]
    if not license.hwid_locked or attempt.hwid in license.devices:
        return
    if not attempt.activating:
        raise HwidMismatchError("This device is not activated for the license")
    if license.max_uses == 1 and license.devices:
        raise HwidMismatchError("License is locked to another device")


def device_slot_free(attempt: Attempt) -> None:
    license: License = attempt.license  # type: ignore[assignment]
    if attempt.activating and attempt.hwid not in license.devices and len(license.devices) >= license.max_uses:
        raise MaxUsesExceededError()


def environment_allowed(attempt: Attempt) -> None:
    """The product's policy on debuggers and virtual machines, last: the most specific refusal."""
    product: Product = attempt.product  # type: ignore[assignment]
    if attempt.debug_indicators and product.block_debugger:
        raise SecurityViolationError("Debugger detected", security_event="debug_detected")
    if attempt.vm_indicators and product.block_vm:
        raise SecurityViolationError("Virtual machine detected", security_event="vm_detected")


LICENSE_GUARDS: tuple[Callable[[Attempt], None], ...] = (
    not_blacklisted,
    product_live,
    license_exists,
    not_suspended,
    not_expired,
    device_matches,
    device_slot_free,
    environment_allowed,
)


def check_attempt(attempt: Attempt) -> None:
    """Raise the first refusal, in the order above; return quietly when the call may proceed."""
    for guard in LICENSE_GUARDS:
        guard(attempt)


IDENTITY_GUARDS = LICENSE_GUARDS[:3]
"""Who may act on a license at all: deactivation frees a device even when the license is suspended."""


def check_identity(attempt: Attempt) -> None:
    for guard in IDENTITY_GUARDS:
        guard(attempt)
