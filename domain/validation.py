"""The licensing rules for a client call: an ordered list of guards, one error code each.

Most decisive first, as Keygen orders its validation: a blacklisted caller learns nothing
else; an unknown key is unknown before it is suspended; a suspended license is refused
before its expiry or devices are considered. The first three guards establish who is calling about
what; they turn an `Attempt` into an `Admitted` call, which the rest judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.blacklist import BlacklistEntry, BlacklistType, NetworkIndex
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


DECIDED_FROM: tuple[type, ...] = (License, Product, BlacklistEntry, NetworkIndex)
"""Every aggregate type a client decision reads. The client view's invalidation and the conditional append
derive from this (commands/client_view.py, commands/client.py); tests/unit/domain/test_validation.py fails
when an Attempt carries an aggregate type outside it."""


PLACEHOLDER_HWIDS = frozenset({
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",  # the SMBIOS UUID of unconfigured boards and many VM templates
    "unknown", "none", "null", "undefined", "default", "to be filled by o.e.m.", "system serial number",
})
"""HWIDs no genuine device reports as its own: what a patched client, an emulator or a blank board sends."""


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


@dataclass(frozen=True)
class Admitted:
    """An attempt past the identity guards: its license and product are known and live."""

    license: License
    product: Product
    hwid: str | None
    now: datetime
    activating: bool
    vm_indicators: tuple[str, ...]
    debug_indicators: tuple[str, ...]
    detected: str | None


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


def admitted(attempt: Attempt) -> Admitted:
    """The attempt as known to be about a live license and product (call after the identity guards)."""
    license, product = attempt.license, attempt.product
    if license is None or product is None:
        raise UnknownLicenseError() if license is None else UnknownProductError()
    return Admitted(license, product, attempt.hwid, attempt.now, attempt.activating, attempt.vm_indicators,
                    attempt.debug_indicators, attempt.detected)


def not_suspended(attempt: Admitted) -> None:
    if attempt.license.is_suspended:
        raise LicenseSuspendedError()


def not_expired(attempt: Admitted) -> None:
    if attempt.license.status_at(attempt.now) is LicenseStatus.EXPIRED:
        raise LicenseExpiredError()


def device_matches(attempt: Admitted) -> None:
    """A locked license answers only to its bound devices; a single-seat lock names the mismatch."""
    license = attempt.license
    if not license.hwid_locked or attempt.hwid in license.devices:
        return
    if not attempt.activating:
        raise HwidMismatchError("This device is not activated for the license")
    if license.max_uses == 1 and license.devices:
        raise HwidMismatchError("License is locked to another device")


def device_slot_free(attempt: Admitted) -> None:
    license = attempt.license
    if attempt.activating and attempt.hwid not in license.devices and len(license.devices) >= license.max_uses:
        raise MaxUsesExceededError()


DETECTION_REFUSALS = {
    "debug_detected": "Debugger detected", "vm_detected": "Virtual machine detected",
    "hwid_spoof_attempt": "Hardware ID not accepted", "geo_anomaly": "Session used from another country",
    "ip_mismatch": "Session used from another address",
}
"""The refusal's message for each detection a product's security policy may block (domain/product.py)."""


def detections_allowed(attempt: Admitted) -> None:
    """The product's security policy on what the call shows (debugger, VM, spoofed HWID), last: the most
    specific refusal. Most calls show nothing, and pass at the first line."""
    if attempt.detected is None:
        return
    for detection, found in (("debug_detected", attempt.debug_indicators), ("vm_detected", attempt.vm_indicators),
                             ("hwid_spoof_attempt", spoofed_hwid(attempt.hwid))):
        if found:
            refuse_if_blocked(attempt.product, detection)


def refuse_if_blocked(product: Product, detection: str | None) -> None:
    """Refuse the call (`SECURITY_VIOLATION`, recorded as `detection`) when the product's policy blocks
    `detection`; also for a heartbeat's move (`ip_mismatch`, `geo_anomaly`), found once its session is known."""
    if detection is not None and product.blocks(detection):
        raise SecurityViolationError(DETECTION_REFUSALS[detection], security_event=detection)


IDENTITY_GUARDS: tuple[Callable[[Attempt], None], ...] = (
    not_blacklisted,
    product_live,
    license_exists,
)
"""Who may act on a license at all: deactivation frees a device even when the license is suspended."""

LICENSE_GUARDS: tuple[Callable[[Admitted], None], ...] = (
    not_suspended,
    not_expired,
    device_matches,
    device_slot_free,
    detections_allowed,
)
"""The rules after the identity guards, in order."""


def check_attempt(attempt: Attempt) -> Admitted:
    """Raise the first refusal, identity guards first, then the rules in order; else the admitted call."""
    admitted_call = check_identity(attempt)
    for guard in LICENSE_GUARDS:
        guard(admitted_call)
    return admitted_call


def check_identity(attempt: Attempt) -> Admitted:
    """Raise the first identity refusal; else the call, admitted as about a live license and product."""
    for guard in IDENTITY_GUARDS:
        guard(attempt)
    return admitted(attempt)
