"""Password hashing with Argon2id (argon2-cffi); the cost profile is a setting."""

from __future__ import annotations

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

DEFAULT_PROFILE = "RFC_9106_LOW_MEMORY"


class Passwords:
    """Hashes new passwords with one profile; verifies any Argon2 hash (its parameters travel with it)."""

    def __init__(self, profile: str = DEFAULT_PROFILE) -> None:
        self._hasher = PasswordHasher.from_parameters(getattr(profiles, profile))
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def _dummy_hash(self) -> str:
        """Made on first need (not per process start): an unknown account still pays for one verification."""
        if self._dummy is None:
            self._dummy = self._hasher.hash("keyledger-dummy-password")
        return self._dummy

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy_hash(), password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False
