"""Time-series feed: counts the call log's client calls into the time series read model.

The call log's half of projections/timeseries.py (validations, activations, deactivations,
devices): the projector never sees client calls, so this feed follows the call log in batches,
with its position kept beside the rows it writes; workers/call_feeds.py runs it beside the security
events. Any number of processes may run it: each batch claims the position first (exactly once, decision 0085).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.security_events import CallSource
from projections.timeseries import TimeseriesProjection, follow_calls


def feed_timeseries(projection: TimeseriesProjection, calls: CallSource, now: datetime) -> int:
    """Count everything the call log holds past the read model's position; returns how many records were read."""
    total = 0
    while read := follow_calls(projection, calls, now):
        total += read
    return total


def timeseries_projection(projections: list[Any]) -> TimeseriesProjection:
    return next(p for p in projections if isinstance(p, TimeseriesProjection))
