"""uuid5 index keys: natural keys (email, license key) mapped to aggregate ids without a read model."""

from __future__ import annotations

import re
from typing import NewType
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c3a52-0d5e-4c55-9a3b-6b0d4a1e7c10")

LicenseKey = NewType("LicenseKey", str)
Email = NewType("Email", str)

# Crockford base32 without I, L, O, U: nothing a customer can misread when typing a key.
KEY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_KEY_SHAPE = re.compile(r"^[0-9A-Z]{4,8}(-[0-9A-Z]{4,8}){2,7}$")


def normalise_email(email: str) -> Email:
    return Email(email.strip().lower())


def normalise_license_key(key: str) -> LicenseKey:
    return LicenseKey(key.strip().upper())


def is_well_formed_license_key(key: str) -> bool:
    return len(key) <= 80 and _KEY_SHAPE.match(normalise_license_key(key)) is not None


def license_id_if_well_formed(key: str) -> UUID | None:
    """The license id a key names, or None for a key of the wrong shape (which names no license)."""
    return license_id_for_key(key) if is_well_formed_license_key(key) else None


def email_index_id(email: str) -> UUID:
    return uuid5(NAMESPACE, f"email:{normalise_email(email)}")


def license_id_for_key(key: str) -> UUID:
    """The license aggregate's id *is* derived from its key, so validation needs no read model."""
    return uuid5(NAMESPACE, f"license:{normalise_license_key(key)}")


def first_account_seat_id() -> UUID:
    """The singleton that only the very first registered account can claim."""
    return uuid5(NAMESPACE, "first-account")


def admin_roster_id() -> UUID:
    """The singleton that lists the active admins (domain/account.py, AdminRoster)."""
    return uuid5(NAMESPACE, "admin-roster")


def inbox_id(account_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"inbox:{account_id}")
