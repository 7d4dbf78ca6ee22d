"""Why a client call is refused: one exception per error code of the spec, with its security event."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from domain.errors import DomainError


class ClientRefusedError(DomainError):
    """Raised when the licensing rules refuse a client call; `code` is the spec's error code."""

    code: ClassVar[str] = "SECURITY_VIOLATION"
    security_event: str | None = None
    """The security event the refusal records: the class's, unless one was given."""
    message: ClassVar[str] = "Security check failed"
    product_id: UUID | None = None
    """The product the refused call named, once the call is recorded: its refusal is answered in that
    product's client protocol."""

    def __init__(self, detail: str | None = None, security_event: str | None = None) -> None:
        super().__init__(detail or self.message)
        self.detail = detail or self.message
        if security_event is not None:
            self.security_event = security_event


class BlacklistedError(ClientRefusedError):
    """Raised when the license, the HWID or the IP is on the blacklist."""

    code, security_event, message = "BLACKLISTED", "blacklist_hit", "Access denied"

    def __init__(self, blacklist_type: str) -> None:
        super().__init__()
        self.blacklist_type = blacklist_type


class UnknownLicenseError(ClientRefusedError):
    """Raised when the key is unknown, malformed, deleted, or belongs to another product."""

    code, message = "LICENSE_NOT_FOUND", "Invalid license key"


class UnknownProductError(ClientRefusedError):
    """Raised when the product does not exist, was deleted or is disabled."""

    code, message = "PRODUCT_NOT_FOUND", "Product not found"


class LicenseSuspendedError(ClientRefusedError):
    """Raised when the vendor has suspended the license."""

    code, message = "LICENSE_SUSPENDED", "License is suspended"


class LicenseExpiredError(ClientRefusedError):
    """Raised when the license's expiry has passed."""

    code, message = "LICENSE_EXPIRED", "License expired"


class HwidMismatchError(ClientRefusedError):
    """Raised when the device is not one the license is bound to."""

    code, security_event, message = "HWID_MISMATCH", "hwid_mismatch", "HWID mismatch"


class MaxUsesExceededError(ClientRefusedError):
    """Raised when every device slot of the license is taken."""

    code, message = "MAX_USES_EXCEEDED", "Maximum activations reached"


class SessionExpiredError(ClientRefusedError):
    """Raised when a session token is unknown, ended or past its expiry."""

    code, message = "SESSION_EXPIRED", "Session expired"


class SecurityViolationError(ClientRefusedError):
    """Raised when a request is tampered, replayed, stale, hijacked or fails a challenge."""

    code, security_event, message = "SECURITY_VIOLATION", "tamper_detected", "Security check failed"


class RateLimitedError(ClientRefusedError):
    """Raised when a client (a license key on one device) or an address calls more often than its limit."""

    code, security_event, message = "RATE_LIMIT_EXCEEDED", "rate_limit_exceeded", "Too many requests"
