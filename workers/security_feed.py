"""Security-event feed: copies the call log's security events into the security events read model.

Client calls are recorded in the call log, not the event store, so the projector never sees them; this feed
follows the call log instead, in batches, with its position kept beside the rows it writes
(projections/security_events.py); workers/call_feeds.py runs it beside the time series. The calls whose detections
deserve an alert raise a `SecurityAlert` in the event store as they are copied (commands/security_alerts.py),
once each, so webhooks deliver them as `security.alert` or `security.blocked`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from projections.security_events import CallSource, RaiseAlerts, SecurityEventsProjection, follow_calls


def feed_security_events(projection: SecurityEventsProjection, calls: CallSource, now: datetime,
                         raise_alerts: RaiseAlerts | None = None, keep_info: timedelta | None = None) -> int:
    """Copy everything the call log holds past the read model's position, raising the alerts due (the Ledger's
    `raise_call_alerts`; None: none), but `info` events older than `keep_info`; returns how many records were read."""
    total, info_since = 0, None if keep_info is None else now - keep_info
    while read := follow_calls(projection, calls, now, raise_alerts=raise_alerts, info_since=info_since):
        total += read
    return total


def security_events_projection(projections: list[Any]) -> SecurityEventsProjection:
    return next(p for p in projections if isinstance(p, SecurityEventsProjection))
