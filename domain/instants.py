"""Instants as text: one fixed-width UTC form, so stored timestamps compare and sort correctly as strings."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_text(at: datetime) -> str:
    """`2026-01-02T03:04:05.000006Z`: ISO-8601, always microseconds, always UTC. Formatted with `%`, cheaper than
    `isoformat` for the same text (docs/decisions/0086-call-log-followers-read-stored-rows.md)."""
    utc = at if at.tzinfo is timezone.utc else at.astimezone(timezone.utc)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (utc.year, utc.month, utc.day, utc.hour, utc.minute,
                                                  utc.second, utc.microsecond)
