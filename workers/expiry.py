"""Expiry sweeper: records what lapses with time or stops running without an event of its own.

Each round it records `License.Expired` once for every license whose expiry has passed, then
`Session.Ended` for every session that can no longer run (lapsed with no heartbeat for SESSION_TTL,
its device released, its license's sessions revoked, or its license or product deleted), and
`BlacklistEntry.Expired` (at the entry's own expiry) for every entry whose expiry has passed; it also keeps
the webhook delivery log and the `info` security events to their retention (KEYLEDGER_WEBHOOK_LOG_DAYS,
KEYLEDGER_SECURITY_INFO_DAYS). Clients meet all of these on their very next call; the sweeper only writes
them down, within one interval (decision 0012).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from commands.ledger import Ledger
from domain.actor import acting, system
from projections.blacklist import lapsed_entry_ids
from projections.db import ReadStore
from projections.licenses import lapsed_license_ids
from projections.security_events import prune_info_events
from projections.sessions import sessions_to_close
from workers.deliveries import prune_delivery_log

log = logging.getLogger(__name__)

SWEEPER = system("expiry-sweeper")
"""The actor of every event a sweep records, whoever runs it."""


def _record_each(ids: Iterable[str], record: Callable[[UUID, datetime], Any], now: datetime) -> int:
    """Run `record` for each id as the sweeper; how many recorded something (a command answers None when
    the aggregate had nothing left to record, so repeating a sweep is harmless)."""
    with acting(SWEEPER):
        return sum(record(UUID(item_id), now) is not None for item_id in ids)


def sweep_expired(ledger: Ledger, store: ReadStore, now: datetime) -> int:
    """Record each lapse the read model shows; returns how many were recorded."""
    return _record_each(lapsed_license_ids(store, now), ledger.expire_license, now)


def sweep_sessions(ledger: Ledger, store: ReadStore, now: datetime) -> int:
    """End each session the read model nominates; returns how many ended.

    The read model may be stale (a heartbeat since), so the command decides from the aggregates.
    """
    return _record_each(sessions_to_close(store, now), ledger.close_session, now)


def sweep_blacklist(ledger: Ledger, store: ReadStore, now: datetime) -> int:
    """Record `Expired` for each blacklist entry whose expiry has passed; returns how many were recorded."""
    return _record_each(lapsed_entry_ids(store, now), ledger.expire_blacklist_entry, now)


SWEEPS = (sweep_expired, sweep_sessions, sweep_blacklist)


def run_sweeper(ledger: Ledger, store: ReadStore, clock: Callable[[], datetime], stop: threading.Event,
                interval: float = 60.0, webhook_log_days: int = 0, security_info_days: int = 0) -> None:
    """Run every sweep each `interval` seconds until `stop` is set, then `prune_logs`; a failed sweep is retried
    next round."""
    while not stop.wait(interval):
        for sweep in SWEEPS:
            try:
                sweep(ledger, store, clock())
            except Exception:
                log.exception("%s failed; retrying next round", sweep.__name__)
        prune_logs(store, clock(), webhook_log_days, security_info_days)


def prune_logs(store: ReadStore, now: datetime, webhook_log_days: int = 0, security_info_days: int = 0) -> None:
    """Keep the webhook delivery log and the `info` security events to their last so many days (0: keep all);
    a failed prune is retried next round."""
    for days, prune, what in ((webhook_log_days, prune_delivery_log, "the webhook delivery log"),
                              (security_info_days, prune_info_events, "the info security events")):
        if days:
            try:
                prune(store, now - timedelta(days=days))
            except Exception:
                log.exception("pruning %s failed; retrying next round", what)
