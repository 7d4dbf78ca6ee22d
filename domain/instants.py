"""Instants as text: one fixed-width UTC form, so stored timestamps compare and sort correctly as strings."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_text(at: datetime) -> str:
    """`2026-01-02T03:04:05.000006Z`: ISO-8601, always microseconds, always UTC."""
    if at.tzinfo is not timezone.utc:
        at = at.astimezone(timezone.utc)
    return at.isoformat(timespec="microseconds")[:-6] + "Z"
