"""Brute-force defence: failed logins and unknown license keys, counted, answered by a block on the address.

Failed logins are counted per account (its normalised email, hashed) and per address, unknown license keys per
address, each in a window. The failure that reaches a threshold blocks its address for a while: an expiring IP
blacklist entry, saved with a blocking `brute_force` security alert. A blocked address's login is answered like
any refused login, after the same password hashing, whatever the password: nothing tells a guesser that the
account exists, that the password was right, or that the address is blocked. Client calls from a blocked address
are refused as blacklisted by the licensing rules themselves. Thresholds and settings: docs/limits.md.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from commands.accounts import InvalidCredentialsError, WrongPasswordError
from commands.base import Receipt
from domain.account import Account
from domain.blacklist import BlacklistType
from domain.errors import DomainError
from domain.ids import normalise_email

log = logging.getLogger(__name__)


def log_in(runtime: Any, scope: Any, email: str, password: str) -> Account:
    """The account these credentials open, unless they are wrong or the address is blocked (then both are
    InvalidCredentialsError); a wrong one counts towards a block."""
    ip = _ip(scope)
    blocked = ip is not None and runtime.ledger.blocks(BlacklistType.IP, ip, runtime.clock())
    try:
        account = runtime.ledger.authenticate(email, password)
    except InvalidCredentialsError:
        if not blocked:
            _failed_login(runtime, ip, email)
        raise
    except DomainError:
        if blocked:  # a deactivated account's right password says no more than a wrong one
            raise InvalidCredentialsError(email) from None
        raise
    if blocked:
        raise InvalidCredentialsError(email)
    return account


def change_password(runtime: Any, scope: Any, account: dict[str, Any], current: str, new: str) -> Receipt:
    """Change the signed-in account's password; a wrong current one counts as a failed login for it."""
    try:
        return runtime.ledger.change_password(UUID(account["id"]), current, new, runtime.clock())
    except WrongPasswordError:
        _failed_login(runtime, _ip(scope), account["email"])
        raise


def unknown_key(runtime: Any, scope: Any) -> None:
    """A client call named a license key that does not exist; enough of them from one address block it."""
    threshold, ip = runtime.settings.brute_force_unknown_keys, _ip(scope)
    if not threshold or ip is None:
        return
    [(count, _)] = runtime.counters.hit([f"bf:k:{ip}"], [runtime.settings.brute_force_window_seconds])
    if count == threshold:
        _block(runtime, ip, "unknown_license_keys", count, [f"bf:k:{ip}"])


def _failed_login(runtime: Any, ip: str | None, email: str) -> None:
    settings = runtime.settings
    if not settings.brute_force_logins or ip is None:
        return
    account = "bf:a:" + hashlib.blake2b(normalise_email(email).encode(), digest_size=16).hexdigest()
    window = settings.brute_force_window_seconds
    (by_ip, _), (by_account, _) = runtime.counters.hit([f"bf:i:{ip}", account], [window, window])
    if by_ip >= settings.brute_force_logins:
        _block(runtime, ip, "failed_logins_from_address", by_ip, [f"bf:i:{ip}"])
    elif by_account >= settings.brute_force_logins:  # each address failing on it from now on is blocked
        _block(runtime, ip, "failed_logins_for_account", by_account, [f"bf:i:{ip}"])


def _block(runtime: Any, ip: str, reason: str, count: int, counted: list[str]) -> None:
    """Block the address; its counts start again, for when the block is lifted. A failure to record the
    block does not fail the answer (the next failure tries again)."""
    settings = runtime.settings
    details = {"reason": reason, "failures": count, "window_seconds": settings.brute_force_window_seconds}
    try:
        runtime.ledger.block_ip("brute_force", ip, f"Brute force: {reason.replace('_', ' ')}",
                                timedelta(seconds=settings.brute_force_block_seconds), details, runtime.clock())
    except Exception:
        log.exception("could not block %s after %s", ip, reason)
        return
    for key in counted:
        runtime.counters.clear(key)


def _ip(scope: Any) -> str | None:
    client = scope.get("client")
    return client[0] if client else None
