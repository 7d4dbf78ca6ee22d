"""Expiry sweeper: records `License.Expired` once for every license whose expiry has passed."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING
from uuid import UUID

from projections.licenses import lapsed_license_ids

if TYPE_CHECKING:
    from keyledger.wiring import Runtime

log = logging.getLogger(__name__)


def sweep_expired(runtime: Runtime) -> int:
    """Record each lapse the read model shows; returns how many were recorded (the command is idempotent)."""
    now = runtime.clock()
    recorded = 0
    for license_id in lapsed_license_ids(runtime.store, now):
        if runtime.ledger.expire_license(UUID(license_id), now) is not None:
            recorded += 1
    return recorded


def run_sweeper(runtime: Runtime, stop: threading.Event, interval: float = 60.0) -> None:
    """Sweep every `interval` seconds until `stop` is set."""
    while not stop.wait(interval):
        try:
            sweep_expired(runtime)
        except Exception:
            log.exception("expiry sweep failed; retrying next round")
