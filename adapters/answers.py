"""The first answers to vendor writes sent with an `Idempotency-Key`, kept for replay (api/idempotency.py).

A table beside the read models (same database), not a read model: nothing projects into it and
a rebuild leaves it alone. Rows outlive their key's retention by nothing: each write removes the
rows past their time. A body is kept sealed with the server's master key, bound to its key's id: a first
answer can hold a product's `secret_key` or a webhook's secret, which are never stored in clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.instants import utc_text
from projections.db import ReadStore

log = logging.getLogger(__name__)

DDL = (
    "CREATE TABLE IF NOT EXISTS idempotent_answers (id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
    " status INTEGER NOT NULL, body TEXT NOT NULL, expires_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS idempotent_answers_expiry ON idempotent_answers (expires_at)",
)


@dataclass(frozen=True)
class StoredAnswer:
    """What a write with a key answered: its request's fingerprint, the status and the JSON body."""

    fingerprint: str
    status: int
    body: bytes


class Answer(Protocol):
    fingerprint: str
    status: int
    body: bytes


class Sealer(Protocol):
    """Authenticated encryption under the server's master key, bound to a purpose (keys/secrets.py)."""

    def seal(self, plaintext: str, purpose: str) -> str: ...
    def unseal(self, token: str, purpose: str) -> str: ...


class AnswerTable:
    """Stored answers in the read models' database, keyed by the idempotency key's id."""

    def __init__(self, store: ReadStore, dropped: Callable[[BaseException], bool], sealer: Sealer) -> None:
        self._store = store
        self._dropped = dropped  # whether an error says the connection went, so a retry may succeed
        self._sealer = sealer
        with store.transaction() as cursor:
            for statement in DDL:
                cursor.execute(statement)

    def get(self, key_id: UUID, now: datetime) -> StoredAnswer | None:
        rows = self._store.query("SELECT fingerprint, status, body FROM idempotent_answers"
                                 " WHERE id = ? AND expires_at > ?", (str(key_id), utc_text(now)))
        if not rows:
            return None
        body = rows[0]["body"]
        if not body.startswith("{"):  # sealed (base64); a JSON object is a row kept before answers were sealed
            try:
                body = self._sealer.unseal(body, _purpose(key_id))
            except Exception:  # sealed under another master key: as good as lost, and the write checks for that
                log.warning("an idempotent answer could not be unsealed; the master key changed")
                return None
        return StoredAnswer(rows[0]["fingerprint"], rows[0]["status"], body.encode())

    def put(self, key_id: UUID, answer: Answer, now: datetime, expires_at: datetime) -> None:
        """Keep `answer`; sent again once should the first try meet a connection the server dropped."""
        try:
            self._put(key_id, answer, now, expires_at)
        except Exception as error:
            if not self._dropped(error):
                raise
            self._put(key_id, answer, now, expires_at)

    def _put(self, key_id: UUID, answer: Answer, now: datetime, expires_at: datetime) -> None:
        with self._store.transaction() as cursor:
            cursor.execute("DELETE FROM idempotent_answers WHERE expires_at <= ?", (utc_text(now),))
            cursor.execute(
                "INSERT INTO idempotent_answers VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " fingerprint = excluded.fingerprint, status = excluded.status, body = excluded.body,"
                " expires_at = excluded.expires_at",
                (str(key_id), answer.fingerprint, answer.status,
                 self._sealer.seal(answer.body.decode(), _purpose(key_id)), utc_text(expires_at)))


def _purpose(key_id: UUID) -> str:
    return f"idempotent-answer:{key_id}"
