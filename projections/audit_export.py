"""The audit export: every linked record as one NDJSON line with its hash, and the signed checkpoints among them.

A header line says which chains and filters the export covers and carries the audit public
key; then, chain by chain in position order, one line per record with the stored bytes, the
hash of the link before it and its own, and each checkpoint right after the record it signs.
Everything is read a page at a time and written as it goes, so memory stays flat however
long the history (docs/audit.md has the line format).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from domain.audit import CALLS, CHAINS, EVENTS, GENESIS, ChainRecord
from domain.instants import utc_text
from projections.audit_chain import BATCH, ChainSource, chain_head, iter_checkpoints, links_between
from projections.db import ReadStore

FORMAT = "keyledger-audit-export/1"
STAMP = re.compile(rb'\{"timestamp":\{"_type_":"datetime_iso","_data_":"([^"]+)"')


@dataclass(frozen=True)
class ExportScope:
    """Which records an export holds: recorded in [since, until), of one product, of one vendor's products."""

    since: datetime | None = None
    until: datetime | None = None
    product_id: str | None = None
    tenant_id: str | None = None

    @property
    def complete(self) -> bool:
        return self == ExportScope()

    def as_dict(self) -> dict[str, Any]:
        return {"since": _text(self.since), "until": _text(self.until), "product_id": self.product_id,
                "tenant_id": self.tenant_id}


def export_lines(store: ReadStore, sources: dict[str, ChainSource], scope: ExportScope, key_id: str,
                 public_pem: str, page: int = BATCH) -> Iterator[bytes]:
    """The export, line by line (each ends with a newline)."""
    header = {"format": FORMAT, "chains": list(CHAINS), "complete": scope.complete, "filters": scope.as_dict(),
              "key_id": key_id, "public_key": public_pem}
    yield _line({"export": header})
    for chain in CHAINS:
        yield from _chain_lines(store, chain, sources[chain], scope, page)


def _chain_lines(store: ReadStore, chain: str, source: ChainSource, scope: ExportScope, page: int
                 ) -> Iterator[bytes]:
    head, after, previous = chain_head(store, chain), 0, GENESIS.hex()
    checkpoints = iter_checkpoints(store, chain, page)
    checkpoint = next(checkpoints, None)
    while after < head and (records := [r for r in source.records(after, page) if r.position <= head]):
        links = links_between(store, chain, after, records[-1].position)
        times = {record.position: record_time(record) for record in records}
        wanted = _in_scope(store, chain, records, times, scope)
        for record in records:
            linked = links.get(record.position)
            if record.position in wanted:
                yield _line(record_line(chain, record, previous, linked, times[record.position]))
            while checkpoint is not None and checkpoint["position"] <= record.position:
                yield _line({"checkpoint": checkpoint})
                checkpoint = next(checkpoints, None)
            previous = linked or previous
        after = records[-1].position
    while checkpoint is not None:
        yield _line({"checkpoint": checkpoint})
        checkpoint = next(checkpoints, None)


def record_line(chain: str, record: ChainRecord, previous: str, linked: str | None, at: str | None
                ) -> dict[str, Any]:
    """One record: the stored bytes as text when they are UTF-8 (they are JSON), else as base64."""
    line: dict[str, Any] = {"chain": chain, "position": record.position, "id": record.record_id,
                            "version": record.version, "type": record.type, "at": at}
    try:
        line["stored"] = record.data.decode("utf-8")
    except UnicodeDecodeError:
        line["stored_base64"] = base64.b64encode(record.data).decode("ascii")
    line["prev_hash"], line["hash"] = previous, linked
    return line


def record_time(record: ChainRecord) -> str | None:
    """When the record was made: a call's `at`, an event's recorded `timestamp` (UTC text)."""
    if record.at is not None:
        return record.at
    try:
        found = STAMP.match(record.data)  # eventsourcing writes it first; reading it costs less than parsing
        stamp = found[1].decode() if found else json.loads(record.data)["timestamp"]["_data_"]
        return utc_text(datetime.fromisoformat(stamp))
    except (ValueError, KeyError, TypeError):
        return None


def _in_scope(store: ReadStore, chain: str, records: Sequence[ChainRecord], times: dict[int, str | None],
              scope: ExportScope) -> set[int]:
    """The positions of the page's records that the scope takes."""
    since, until = _text(scope.since), _text(scope.until)
    timely = [r for r in records if (since is None or (times[r.position] or "") >= since)
              and (until is None or (times[r.position] or "") < until)]
    if scope.product_id is None and scope.tenant_id is None:
        return {r.position for r in timely}
    if chain == CALLS:
        products = {r.position: json.loads(r.data).get("product_id") for r in timely}
        owned = _owned(store, {p for p in products.values() if p}, scope)
        return {position for position, product in products.items() if product in owned}
    assert chain == EVENTS
    owned = _owned(store, {r.record_id for r in timely}, scope)
    return {r.position for r in timely if r.record_id in owned}


def _owned(store: ReadStore, ids: set[str], scope: ExportScope) -> set[str]:
    """Which of these product, license and session ids belong to the scope's product and vendor (the stats read
    model keeps who owns each, deleted or not: projections/stats.py)."""
    if not ids:
        return set()
    marks = ", ".join("?" for _ in ids)
    conditions, params = [], []
    if scope.product_id is not None:
        conditions.append("product_id = ?")
        params.append(scope.product_id)
    if scope.tenant_id is not None:
        conditions.append("owner_id = ?")
        params.append(scope.tenant_id)
    where = " AND ".join(conditions)
    rows = store.query(f"SELECT id FROM stats_owners WHERE id IN ({marks}) AND {where}"
                       f" UNION SELECT id FROM stats_activations WHERE id IN ({marks}) AND {where}",
                       [*ids, *params, *ids, *params])
    return {row["id"] for row in rows}


def _line(value: Any) -> bytes:
    return msgspec.json.encode(value) + b"\n"


def _text(at: datetime | None) -> str | None:
    return None if at is None else utc_text(at)
