"""Domain exceptions shared by every aggregate."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the domain refuses to break."""


class NotFoundError(DomainError):
    """Raised when an aggregate does not exist, is deleted, or belongs to another tenant."""


class ConflictError(DomainError):
    """Raised when a change conflicts with something that already exists."""


class InvalidValueError(DomainError, ValueError):
    """Raised when a value breaks a domain rule (a lifetime license with an expiry, …)."""
