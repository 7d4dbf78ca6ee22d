"""The call log's two feeds in one loop: security events and time series, from one read of the log.

Each feed keeps its own position (projections/security_events.py, projections/timeseries.py), claimed in one
transaction, security events first in every process, so two processes never wait for each other in a circle.
A batch is read once from the lower of the two and each feed takes the calls past its own: once both have
caught up they stand at one position and share every read. Why: docs/decisions/0095-one-read-for-both-feeds.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from domain.actor import act_as, system
from projections.call_rows import BATCH, CallSource, StoredCall, settled_calls
from projections.security_events import CALL_LOG, RaiseAlerts, SecurityEventsProjection, copy_calls
from projections.timeseries import TimeseriesProjection, count_calls
from workers.security_feed import feed_security_events
from workers.timeseries_feed import feed_timeseries

log = logging.getLogger(__name__)


def feed_calls(security: SecurityEventsProjection, timeseries: TimeseriesProjection, calls: CallSource, now: datetime,
               raise_alerts: RaiseAlerts | None = None, keep_info: timedelta | None = None) -> int:
    """Bring both feeds to the end of the call log, raising the alerts due (the Ledger's `raise_call_alerts`;
    None: none), but `info` events older than `keep_info`; returns how many records were read."""
    info_since = None if keep_info is None else now - keep_info
    total = 0
    while read := follow_both(security, timeseries, calls, now, raise_alerts, info_since):
        total += read
    return total


def follow_both(security: SecurityEventsProjection, timeseries: TimeseriesProjection, calls: CallSource,
                now: datetime, raise_alerts: RaiseAlerts | None = None, info_since: datetime | None = None) -> int:
    """Both feeds' next batch from one read, in one transaction: how many records were read (0: caught up, or
    waiting at a gap). While one stands behind the other (after a rebuild), the read starts at the lower
    position, and waits at a young gap there even for the feed already past it."""
    if timeseries.view.store is not security.view.store:
        raise ValueError("both feeds must keep their read models in one store")
    with security.view.store.transaction(durable=False) as cursor:
        at_security = security.view.claim_position(cursor, CALL_LOG)
        at_timeseries = timeseries.view.claim_position(cursor, CALL_LOG)
        read = settled_calls(calls, min(at_security, at_timeseries), BATCH, now)
        copy_calls(cursor, security, at_security, _past(read, at_security), raise_alerts, info_since)
        count_calls(cursor, timeseries, _past(read, at_timeseries))
    security.view.notify_advanced()
    timeseries.view.notify_advanced()
    return len(read)


def _past(read: list[StoredCall], position: int) -> list[StoredCall]:
    return read if not read or read[0].position > position else [call for call in read if call.position > position]


def feed_round(security: SecurityEventsProjection, timeseries: TimeseriesProjection, calls: CallSource,
               now: datetime, raise_alerts: RaiseAlerts | None = None, keep_info: timedelta | None = None) -> None:
    """One round of the loop: both feeds together, and where that fails, each alone, so that a failing feed
    (an alert it cannot raise, say) does not hold the other back. Failures are logged; the next round retries."""
    try:
        feed_calls(security, timeseries, calls, now, raise_alerts, keep_info)
        return
    except Exception:
        log.exception("the call log's feeds failed together; each tries alone")
    for name, feed in (("security-event", lambda: feed_security_events(security, calls, now, raise_alerts, keep_info)),
                       ("time-series", lambda: feed_timeseries(timeseries, calls, now))):
        try:
            feed()
        except Exception:
            log.exception("the %s feed failed; retrying next round", name)


def run_call_feeds(security: SecurityEventsProjection, timeseries: TimeseriesProjection, calls: CallSource,
                   clock: Callable[[], datetime], stop: threading.Event, raise_alerts: RaiseAlerts | None = None,
                   keep_info: timedelta | None = None, interval: float = 1.0) -> None:
    """A round (`feed_round`) every `interval` seconds until `stop` is set."""
    act_as(system("security-feed"))  # the actor of any alert this thread raises
    while not stop.wait(interval):
        feed_round(security, timeseries, calls, clock(), raise_alerts, keep_info)
