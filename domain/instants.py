"""Instants as text: one fixed-width UTC form, so stored timestamps compare and sort correctly as strings."""

from __future__ import annotations

from datetime import datetime, timezone

_FORMATTED_KEPT = 4096
_formatted: dict[datetime, str] = {}
"""The instants formatted last: a client call formats its own twice, in its record and in its signed answer.
(Equal aware datetimes are the same instant, so they share their UTC text whatever their zone.)"""


def utc_text(at: datetime) -> str:
    """`2026-01-02T03:04:05.000006Z`: ISO-8601, always microseconds, always UTC.

    Formatted with `%` rather than `isoformat(timespec=...)`, which costs half as much again; the
    text is the same for every year from 1 to 9999 (tests/property/test_instants.py)."""
    text = _formatted.get(at)
    if text is None:
        utc = at if at.tzinfo is timezone.utc else at.astimezone(timezone.utc)
        text = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (utc.year, utc.month, utc.day, utc.hour, utc.minute,
                                                      utc.second, utc.microsecond)
        if len(_formatted) >= _FORMATTED_KEPT:
            _formatted.clear()
        _formatted[at] = text
    return text
