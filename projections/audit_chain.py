"""The audit chain's read side: one hash link per stored record, signed checkpoints, and their queries.

`AuditChain` follows one log (the event store or the client-call log, each a `ChainSource`)
like a projection: each batch locks the chain's tracking row, reads the position there,
links the records past it onto the head's hash and records the new position, all in one
transaction, so any number of processes extend the chain and each record is linked once
(docs/decisions/0001-exactly-once-projections.md). Now and then it signs a checkpoint of the
head with the server's audit key. The scheme is in domain/audit.py and docs/audit.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from eventsourcing.persistence import Tracking

from domain.audit import GENESIS, ChainRecord, checkpoint_message, fingerprint, link_and_fingerprint
from domain.instants import utc_text
from projections.base import ProjectionView
from projections.db import Cursor, ReadStore, Row

DDL = (
    "CREATE TABLE IF NOT EXISTS audit_links (chain TEXT NOT NULL, position BIGINT NOT NULL,"
    " record_id TEXT NOT NULL, version BIGINT NOT NULL, fingerprint TEXT NOT NULL, hash TEXT NOT NULL,"
    " PRIMARY KEY (chain, position))",
    "CREATE INDEX IF NOT EXISTS audit_links_record ON audit_links (chain, record_id, version)",
    "CREATE TABLE IF NOT EXISTS audit_checkpoints (chain TEXT NOT NULL, position BIGINT NOT NULL,"
    " hash TEXT NOT NULL, key_id TEXT NOT NULL, at TEXT NOT NULL, signature TEXT NOT NULL,"
    " PRIMARY KEY (chain, position))",
)
BATCH = 1000
SETTLE = timedelta(seconds=30)
"""How long the chain waits at a gap in a log's positions before linking past it. The call log hands out rows past
a gap only once no transaction can fill it, so what is left is a rolled-back append's (docs/audit.md)."""


class ChainSource(Protocol):
    """One log, read in position order: at most `limit` records past `after`."""

    def records(self, after: int, limit: int) -> list[ChainRecord]: ...


@dataclass(frozen=True)
class Signer:
    """Signs checkpoint messages with the server's audit key: its id, and message -> base64 signature."""

    key_id: str
    sign: Callable[[bytes], str]


class AuditChain:
    """Extends one chain over its log; several processes may run one each."""

    def __init__(self, store: ReadStore, chain: str, source: ChainSource, signer: Signer,
                 clock: Callable[[], datetime], application_name: str, every: int = 1000,
                 interval: timedelta = timedelta(seconds=60)) -> None:
        self.store, self.chain, self.source, self.signer, self.clock = store, chain, source, signer, clock
        self.view = ProjectionView(store, f"audit_chain_{chain}")
        self.application_name = application_name
        self.every, self.interval = every, interval

    def create_tables(self) -> None:
        self.view.create_table()
        with self.store.transaction() as cursor:
            for statement in DDL:
                cursor.execute(statement)

    def advance(self, limit: int = BATCH) -> int:
        """Link the next records (at most `limit`), signing a checkpoint at each `every` records and at the head
        once the last checkpoint is `interval` old; how many records were linked."""
        with self.store.transaction() as cursor:
            position = self.view.claim_position(cursor, self.application_name)
            records = self._settled(self.source.records(position, limit), position)
            head = _link_hash_at(cursor, self.chain, position) if position else GENESIS
            signed, signed_at = self._last_checkpoint(cursor)
            links = []
            for record in records:
                head, record_print = link_and_fingerprint(head, record)
                links.append((self.chain, record.position, record.record_id, record.version, record_print, head.hex()))
                if record.position - signed >= self.every:
                    signed, signed_at = record.position, self._sign_checkpoint(cursor, record.position, head)
            if records:
                cursor.executemany("INSERT INTO audit_links (chain, position, record_id, version, fingerprint, hash)"
                                   " VALUES (?, ?, ?, ?, ?, ?)", links)
                position = records[-1].position
                self.view.record_tracking(cursor, Tracking(self.application_name, position))
            if signed < position and signed_at <= utc_text(self.clock() - self.interval):
                self._sign_checkpoint(cursor, position, head)
        return len(records)

    def catch_up(self) -> int:
        total = 0
        while (count := self.advance()) > 0:
            total += count
        return total

    def _settled(self, records: list[ChainRecord], position: int) -> list[ChainRecord]:
        """The records up to the first gap in positions, or past it once the record after it is SETTLE old.
        Records without a time come from a log that commits in position order: its gaps are final."""
        settled_before = utc_text(self.clock() - SETTLE)
        for index, record in enumerate(records):
            expected = records[index - 1].position + 1 if index else position + 1
            if record.position != expected and record.at is not None and record.at > settled_before:
                return records[:index]
        return records

    def _last_checkpoint(self, cursor: Cursor) -> tuple[int, str]:
        """The last checkpoint's position and time (0 and the epoch when there is none)."""
        cursor.execute("SELECT position, at FROM audit_checkpoints WHERE chain = ? ORDER BY position DESC LIMIT 1",
                       (self.chain,))
        last = cursor.fetchone()
        return (0, "") if last is None else (int(last["position"]), last["at"])

    def _sign_checkpoint(self, cursor: Cursor, position: int, head: bytes) -> str:
        at = utc_text(self.clock())
        message = checkpoint_message(self.chain, position, head.hex(), self.signer.key_id, at)
        cursor.execute("INSERT INTO audit_checkpoints (chain, position, hash, key_id, at, signature)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (self.chain, position, head.hex(), self.signer.key_id, at, self.signer.sign(message)))
        return at


def _link_hash_at(cursor: Cursor, chain: str, position: int) -> bytes:
    cursor.execute("SELECT hash FROM audit_links WHERE chain = ? AND position = ?", (chain, position))
    return bytes.fromhex(cursor.fetchone()["hash"])


def list_checkpoints(store: ReadStore, page: int, limit: int, chain: str | None = None) -> tuple[list[Row], int]:
    """A page of checkpoints, oldest first, and how many there are."""
    where, params = ("WHERE chain = ?", [chain]) if chain else ("", [])
    total = store.query(f"SELECT COUNT(*) AS n FROM audit_checkpoints {where}", params)[0]["n"]
    rows = store.query(f"SELECT chain, position, hash, key_id, at, signature FROM audit_checkpoints {where}"
                       " ORDER BY chain, position LIMIT ? OFFSET ?", [*params, limit, (page - 1) * limit])
    return rows, int(total)


def iter_checkpoints(store: ReadStore, chain: str, page: int = BATCH) -> Iterator[Row]:
    """Every checkpoint of a chain, oldest first, read a page at a time."""
    after = 0
    while rows := store.query("SELECT chain, position, hash, key_id, at, signature FROM audit_checkpoints"
                              " WHERE chain = ? AND position > ? ORDER BY position LIMIT ?", (chain, after, page)):
        yield from rows
        after = rows[-1]["position"]


def iter_links(store: ReadStore, chain: str, page: int = BATCH) -> Iterator[Row]:
    """Every link of a chain in position order, read a page at a time."""
    after = 0
    while rows := store.query("SELECT position, record_id, version, fingerprint, hash FROM audit_links"
                              " WHERE chain = ? AND position > ? ORDER BY position LIMIT ?", (chain, after, page)):
        yield from rows
        after = rows[-1]["position"]


def links_between(store: ReadStore, chain: str, after: int, through: int) -> dict[int, str]:
    """The hashes of a chain's links in (after, through], by position."""
    rows = store.query("SELECT position, hash FROM audit_links WHERE chain = ? AND position > ? AND position <= ?",
                       (chain, after, through))
    return {row["position"]: row["hash"] for row in rows}


def linked_elsewhere(store: ReadStore, chain: str, record: ChainRecord) -> bool:
    """Whether the chain links this very record (same id, version, type and bytes) at another position.
    Asked only once a verification has found a break, so the fingerprints have no index: scanning the links
    then is cheaper than keeping a random-keyed index up to date for every record linked (decision 0092)."""
    rows = store.query("SELECT position FROM audit_links WHERE chain = ? AND fingerprint = ?",
                       (chain, fingerprint(record)))
    return any(row["position"] != record.position for row in rows)


def chain_head(store: ReadStore, chain: str) -> int:
    rows: list[Any] = store.query("SELECT MAX(position) AS p FROM audit_links WHERE chain = ?", (chain,))
    return int(rows[0]["p"] or 0)
