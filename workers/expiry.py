"""Expiry sweeper: records `License.Expired` once for every license whose expiry has passed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from commands.ledger import Ledger
from projections.db import ReadStore
from projections.licenses import lapsed_license_ids

log = logging.getLogger(__name__)


def sweep_expired(ledger: Ledger, store: ReadStore, now: datetime) -> int:
    """Record each lapse the read model shows; returns how many were recorded (the command is idempotent)."""
    recorded = 0
    for license_id in lapsed_license_ids(store, now):
        if ledger.expire_license(UUID(license_id), now) is not None:
            recorded += 1
    return recorded


def run_sweeper(ledger: Ledger, store: ReadStore, clock: Callable[[], datetime], stop: threading.Event,
                interval: float = 60.0) -> None:
    """Sweep every `interval` seconds until `stop` is set."""
    while not stop.wait(interval):
        try:
            sweep_expired(ledger, store, clock())
        except Exception:
            log.exception("expiry sweep failed; retrying next round")
