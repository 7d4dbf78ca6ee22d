"""The audit chain's worker and its check: extend every chain as the logs grow, and verify them.

`ChainKeeper` runs beside the projector (the same processes run it): it links new records
and signs checkpoints. `verify_chain` recomputes a chain from its log, compares each link and
checkpoint, checks every checkpoint's signature, and names the first position that does not
match (docs/audit.md).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from domain.audit import GENESIS, Break, ChainRecord, checkpoint_message, classify, fingerprint, link_hash
from keys.signing import PublicKey, key_id, load_public_key, verify
from projections.audit_chain import (
    AuditChain,
    ChainSource,
    chain_head,
    iter_checkpoints,
    iter_links,
    linked_elsewhere,
)
from projections.db import ReadStore, unreachable

log = logging.getLogger(__name__)
PAGE = 1000


class ChainKeeper:
    """Keeps a set of chains up to date on a thread of its own; `catch_up` does it once, in the caller."""

    def __init__(self, chains: Sequence[AuditChain], poll: float = 0.5) -> None:
        self.chains = list(chains)
        self.poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def catch_up(self) -> int:
        return sum(chain.catch_up() for chain in self.chains)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-chain", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up()
            except Exception as error:
                log.exception("audit chain batch failed; retrying")
                self._stop.wait(0.1 if unreachable(error) else 1.0)
            self._stop.wait(self.poll)

    def halt(self) -> None:
        """Ask the thread to stop after its batch, without waiting."""
        self._stop.set()

    def stop(self, timeout: float = 10) -> None:
        self.halt()
        if self._thread is not None:
            self._thread.join(timeout)


def iter_records(source: ChainSource, after: int = 0, page: int = PAGE) -> Iterator[ChainRecord]:
    """Every record of a log past `after`, in position order, read a page at a time (memory stays flat)."""
    while records := source.records(after, page):
        yield from records
        after = records[-1].position


@dataclass
class ChainReport:
    """What `verify_chain` found: records and checkpoints checked, and every problem, first break first."""

    chain: str
    records: int = 0
    checkpoints: int = 0
    breaks: list[Break] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks and not self.bad_signatures


def check_signature(checkpoint: dict[str, Any], keys: dict[str, PublicKey]) -> str | None:
    """None if the checkpoint is signed by a known key over its own fields; else what is wrong."""
    key = keys.get(checkpoint["key_id"])
    if key is None:
        return f"checkpoint at {checkpoint['position']}: unknown key id {checkpoint['key_id']}"
    message = checkpoint_message(checkpoint["chain"], checkpoint["position"], checkpoint["hash"],
                                 checkpoint["key_id"], checkpoint["at"])
    if not verify(key, message, checkpoint["signature"]):
        return f"checkpoint at {checkpoint['position']}: signature does not verify"
    return None


def verify_chain(store: ReadStore, chain: str, source: ChainSource, keys: dict[str, PublicKey]) -> ChainReport:
    """Recompute `chain` from its log up to the chain's head; check links, checkpoints and signatures."""
    report = ChainReport(chain)
    for checkpoint in iter_checkpoints(store, chain):
        report.checkpoints += 1
        problem = check_signature(checkpoint, keys)
        if problem:
            report.bad_signatures.append(problem)
    broken = _first_break(store, chain, source, report)
    if broken is not None:
        report.breaks.append(broken)
    return report


def _first_break(store: ReadStore, chain: str, source: ChainSource, report: ChainReport) -> Break | None:
    """Walk the log, the links and the checkpoints together, in position order; the first mismatch."""
    head = chain_head(store, chain)
    links, checkpoints = _Peek(iter_links(store, chain)), _Peek(iter_checkpoints(store, chain))
    records: _Peek[ChainRecord] = _Peek(iter_records(source))
    recomputed, last_good = GENESIS, 0
    while (record := records.peek()) is not None and record.position <= head:
        records.next()
        report.records += 1
        checkpoint, link = checkpoints.peek(), links.peek()
        if checkpoint is not None and checkpoint["position"] < record.position:
            return Break(chain, checkpoint["position"], "removed", "signed in a checkpoint; the log no longer holds it")
        if link is not None and link["position"] < record.position:
            return Break(chain, link["position"], "removed", "linked, but the log no longer holds it")
        if link is None or link["position"] > record.position:
            kind = "reordered" if linked_elsewhere(store, chain, record) else "inserted"
            return Break(chain, record.position, kind, "the log holds a record the chain never linked here")
        links.next()
        recomputed = link_hash(recomputed, record)
        if recomputed.hex() != link["hash"]:
            following = records.peek()
            kind = classify(linked_elsewhere(store, chain, record),
                            following is not None and fingerprint(following) == link["fingerprint"])
            return Break(chain, record.position, kind, "its hash differs from the one linked")
        if checkpoint is not None and checkpoint["position"] == record.position:
            checkpoints.next()
            if checkpoint["hash"] != recomputed.hex():
                return Break(chain, last_good + 1, "changed", f"the chain was rewritten somewhere in positions"
                             f" {last_good + 1} to {record.position}: the signed checkpoint disagrees")
            last_good = record.position
    if (link := links.peek()) is not None:
        return Break(chain, link["position"], "removed", "linked, but the log no longer holds it")
    return None


T = TypeVar("T")


class _Peek(Generic[T]):
    """An iterator one can look one item ahead in."""

    def __init__(self, items: Iterator[T]) -> None:
        self._items = items
        self._next: T | None = next(items, None)

    def peek(self) -> T | None:
        return self._next

    def next(self) -> None:
        self._next = next(self._items, None)


@dataclass
class ExportReport:
    """What `verify_export` found in an export file, per chain, and the key its checkpoints were checked with."""

    key_id: str | None = None
    complete: bool = False
    chains: dict[str, ChainReport] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unanchored: dict[str, int] = field(default_factory=dict)
    """Lines past the last checkpoint that matched in their chain: their links check, no signature covers them."""

    @property
    def ok(self) -> bool:
        return not self.problems and all(report.ok for report in self.chains.values())


def verify_export(lines: Iterable[bytes], public_pem: str | None) -> ExportReport:
    """Check an export offline: every line's link, the chain's continuity (in a complete export), every
    checkpoint's signature and that it matches the line it signs. `public_pem`: the key to trust (None: the
    one the file carries, which proves only that the file is consistent)."""
    report, keys = ExportReport(), {}
    last: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            report.problems.append(f"line {number}: not JSON")
            continue
        if "export" in line:
            keys, report.key_id, report.complete = _export_keys(line["export"], public_pem)
        elif "checkpoint" in line:
            _check_export_checkpoint(line["checkpoint"], keys, last, report)
        else:
            _check_export_record(line, last, report)
    return report


def _export_keys(header: dict[str, Any], public_pem: str | None) -> tuple[dict[str, PublicKey], str, bool]:
    pem = public_pem if public_pem is not None else header["public_key"]
    identity = key_id(pem)
    return {identity: load_public_key(pem)}, identity, bool(header.get("complete"))


def _check_export_record(line: dict[str, Any], last: dict[str, tuple[int, str]], report: ExportReport) -> None:
    chain = line["chain"]
    chain_report = report.chains.setdefault(chain, ChainReport(chain))
    chain_report.records += 1
    report.unanchored[chain] = report.unanchored.get(chain, 0) + 1
    if chain_report.breaks:
        return
    stored = line["stored"].encode() if "stored" in line else base64.b64decode(line["stored_base64"])
    record = ChainRecord(line["position"], line["id"], line["version"], line["type"], stored)
    previous_position, previous_hash = last.get(chain, (0, GENESIS.hex()))
    if record.position <= previous_position:
        chain_report.breaks.append(Break(chain, record.position, "reordered", "lines out of position order"))
    elif report.complete and line["prev_hash"] != previous_hash:
        chain_report.breaks.append(Break(chain, record.position, "removed", "the line before it in the chain is"
                                         " missing, or one was inserted or moved"))
    elif link_hash(bytes.fromhex(line["prev_hash"]), record).hex() != line["hash"]:
        chain_report.breaks.append(Break(chain, record.position, "changed", "its hash does not match its content"))
    last[chain] = (record.position, line["hash"])


def _check_export_checkpoint(checkpoint: dict[str, Any], keys: dict[str, PublicKey],
                             last: dict[str, tuple[int, str]], report: ExportReport) -> None:
    chain = checkpoint["chain"]
    chain_report = report.chains.setdefault(chain, ChainReport(chain))
    chain_report.checkpoints += 1
    problem = check_signature(checkpoint, keys)
    if problem:
        chain_report.bad_signatures.append(problem)
        return
    position, hash_hex = last.get(chain, (0, GENESIS.hex()))
    if position == checkpoint["position"]:
        if hash_hex != checkpoint["hash"]:
            chain_report.breaks.append(Break(chain, position, "changed", "the signed checkpoint disagrees"))
        else:
            report.unanchored[chain] = 0
