"""The one exception the SDK raises."""

from __future__ import annotations

from typing import Any, Dict, Optional


class LicenseCMError(Exception):
    """A refusal from the server, or a failed check on this side.

    `code` is the server's `error_code` (``LICENSE_NOT_FOUND``, ``HWID_MISMATCH``,
    ``SESSION_EXPIRED``, ...) or one of the SDK's own: ``SECURITY_VIOLATION`` (an answer
    failed verification), ``NETWORK_ERROR`` (no answer), ``INVALID_RESPONSE`` (an answer
    that is not the API's JSON), ``NOT_ACTIVATED`` (a heartbeat without a session).
    `status` is the HTTP status when there was one; `details` is a dict with whatever
    else is known (the server's full error body, or what the failed check was).
    """

    def __init__(self, message: str, code: Optional[str] = None, status: Optional[int] = None,
                 details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details: Dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"LicenseCMError({self.message!r}, code={self.code!r}, status={self.status!r})"
