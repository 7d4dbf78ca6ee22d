"""Mixed licensing traffic for a bounded time, from several threads, straight through the Ledger's commands.

Each thread plays a vendor and its clients on licenses of its own and of the others: issues (one
and in bulk), activations and deactivations on a few devices, heartbeats, suspensions, HWID
resets, limit and metadata changes, deletions. Refusals the rules give are legitimate outcomes;
anything else is recorded as an unexpected error, which a test should assert is absent.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from commands.ledger import Ledger
from domain.account import Actor
from domain.client_call import ClientRequest
from domain.errors import DomainError
from domain.license import LicenseStatus, LicenseTerms
from domain.product import SigningAlgorithm

HWIDS = ("hw-1", "hw-2", "hw-3", "hw-4")


@dataclass
class Outcome:
    """What the traffic did: the licenses it issued (acknowledged) and what went wrong unexpectedly."""

    issued: set[UUID] = field(default_factory=set)
    deleted: set[UUID] = field(default_factory=set)
    commands: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Deadline:
    """Past `seconds`, once `at_least` commands ran or ten times `seconds` went by."""

    def __init__(self, seconds: float, at_least: int, outcome: Outcome) -> None:
        start = time.monotonic()
        self.soft, self.hard, self.at_least, self.outcome = start + seconds, start + 10 * seconds, at_least, outcome

    def passed(self) -> bool:
        now = time.monotonic()
        return now >= self.hard or (now >= self.soft and self.outcome.commands >= self.at_least)


def run_traffic(ledger: Ledger, clock: Callable[[], datetime], seconds: float, threads: int = 4,
                seed: int = 0, at_least: int = 0) -> Outcome:
    """Drive mixed traffic for `seconds` from `threads` threads, and on until `at_least` commands ran (a slow
    machine needs longer; at most ten times `seconds`); returns what was acknowledged."""
    vendor = Actor(uuid4())
    product = ledger.create_product(vendor, "Traffic", "", SigningAlgorithm.ED25519, clock()).id
    outcome = Outcome()
    deadline = Deadline(seconds, at_least, outcome)
    workers = [threading.Thread(target=_drive, args=(ledger, clock, vendor, product, outcome, deadline, seed + n))
               for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcome


def _drive(ledger: Ledger, clock: Callable[[], datetime], vendor: Actor, product: UUID, outcome: Outcome,
           deadline: Deadline, seed: int) -> None:
    rng = random.Random(seed)
    keys: dict[UUID, str] = {}
    tokens: dict[tuple[UUID, str], str] = {}
    while not deadline.passed():
        try:
            _step(ledger, clock, vendor, product, outcome, rng, keys, tokens)
        except DomainError:
            pass  # a refusal the rules give (full, suspended, mismatch, deleted, ...)
        except Exception as error:  # noqa: BLE001 - the test asserts there were none
            with outcome.lock:
                outcome.errors.append(f"{type(error).__name__}: {error}")
        with outcome.lock:
            outcome.commands += 1


def _step(ledger: Ledger, clock: Callable[[], datetime], vendor: Actor, product: UUID, outcome: Outcome,
          rng: random.Random, keys: dict[UUID, str], tokens: dict[tuple[UUID, str], str]) -> None:
    if len(keys) < 3 or rng.random() < 0.08:
        _issue(ledger, clock, vendor, product, outcome, rng, keys)
        return
    license_id = rng.choice(list(keys))
    hwid = rng.choice(HWIDS)
    request = ClientRequest(keys[license_id], product, hwid, "203.0.113.5", "traffic", clock())
    action = rng.random()
    if action < 0.35:
        granted = ledger.activate_license(request)
        tokens[(license_id, hwid)] = granted.session_token or ""
    elif action < 0.55:
        ledger.deactivate_license(request)
    elif action < 0.65 and (license_id, hwid) in tokens:
        ledger.keep_session_alive(request, tokens[(license_id, hwid)])
    elif action < 0.75:
        status = rng.choice([LicenseStatus.SUSPENDED, LicenseStatus.ACTIVE])
        ledger.update_license(vendor, license_id, clock(), status=status, metadata={"n": rng.randint(0, 3)})
    elif action < 0.82:
        ledger.update_license(vendor, license_id, clock(), max_uses=rng.randint(1, 3))
    elif action < 0.9:
        ledger.reset_hwid(vendor, license_id, clock())
    elif action < 0.93:
        ledger.delete_license(vendor, license_id, clock())
        del keys[license_id]
        with outcome.lock:
            outcome.deleted.add(license_id)
    else:
        ledger.validate_license(request)


def _issue(ledger: Ledger, clock: Callable[[], datetime], vendor: Actor, product: UUID, outcome: Outcome,
           rng: random.Random, keys: dict[UUID, str]) -> None:
    count = rng.choice([1, 1, 1, 3])
    ids, _ = ledger.issue_licenses(vendor, product, count, LicenseTerms(max_uses=rng.randint(1, 3)), clock())
    for license_id in ids:
        keys[license_id] = ledger.get_license(vendor, license_id).key
    with outcome.lock:
        outcome.issued.update(ids)


def license_rows_are_sane(rows: list[dict[str, Any]]) -> list[str]:
    """What a correct licenses read model never shows: a device twice, or more devices than max_uses."""
    problems = []
    for row in rows:
        devices = row["devices"]
        if len(devices) != len(set(devices)):
            problems.append(f"{row['id']}: a device twice in {devices}")
        if row["current_uses"] != len(devices) or row["current_uses"] > row["max_uses"]:
            problems.append(f"{row['id']}: current_uses {row['current_uses']}, max_uses {row['max_uses']}")
    return problems
