"""Webhooks read model (a vendor's endpoints), and the reads of the delivery log the dispatcher keeps.

The delivery tables are not a read model: the dispatcher (workers/webhooks.py) writes a delivery in the
same transaction as its position, and delivery workers record each attempt, so a rebuild never touches
them. Their DDL lives here beside the queries the API reads them with.
"""

from __future__ import annotations

from typing import Any

from domain.webhook import Webhook
from projections.base import ReadModelProjection, from_json, iso, to_json
from projections.db import Cursor, ReadStore, Row

DELIVERY_DDL = (
    "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
    " id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,"
    " position BIGINT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_attempt_at TEXT, lease_until TEXT, replay_id TEXT, created_at TEXT NOT NULL, seq BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, seq)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_created ON webhook_deliveries (created_at)",  # the log's pruning
    "CREATE TABLE IF NOT EXISTS webhook_attempts ("
    " delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, attempted_at TEXT NOT NULL, status_code INTEGER,"
    " response_time_ms INTEGER NOT NULL, error TEXT, response_excerpt TEXT NOT NULL, next_retry_at TEXT,"
    " PRIMARY KEY (delivery_id, attempt))",
)
"""`state`: pending (due at `next_attempt_at`), delivered, failed (retries exhausted) or cancelled (the
webhook was deleted or disabled before it could be delivered)."""


class WebhookListProjection(ReadModelProjection):
    """One row per live webhook; the secret stays out of it (only a command reveals it, to its owner)."""

    name = "webhooks"
    tables = ("webhooks",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS webhooks (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, url TEXT NOT NULL,"
        " events TEXT NOT NULL, is_active INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
        " seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS webhooks_owner ON webhooks (owner_id, seq)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case Webhook.Registered():
                cursor.execute("INSERT INTO webhooks VALUES (?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id), event.url, to_json(event.events),
                                iso(event.at), iso(event.at), self.position))
            case Webhook.Changed():
                cursor.execute("UPDATE webhooks SET url = ?, events = ?, is_active = ?, updated_at = ? WHERE id = ?",
                               (event.url, to_json(event.events), int(event.is_active), iso(event.at),
                                str(event.originator_id)))
            case Webhook.Disabled():
                cursor.execute("UPDATE webhooks SET is_active = 0, updated_at = ? WHERE id = ?",
                               (iso(event.at), str(event.originator_id)))
            case Webhook.Deleted():
                cursor.execute("DELETE FROM webhooks WHERE id = ?", (str(event.originator_id),))
            case _:
                pass


def _shape(row: Row) -> Row:
    return {**row, "events": from_json(row["events"]), "is_active": bool(row["is_active"])}


def list_webhooks(store: ReadStore, owner_id: str | None) -> list[Row]:
    """A vendor's webhooks (every one when owner_id is None: an admin's view), oldest first."""
    if owner_id is None:
        return [_shape(row) for row in store.query("SELECT * FROM webhooks ORDER BY seq")]
    return [_shape(row) for row in store.query("SELECT * FROM webhooks WHERE owner_id = ? ORDER BY seq",
                                               (owner_id,))]


def get_webhook(store: ReadStore, webhook_id: str, owner_id: str | None) -> Row | None:
    rows = store.query("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
    if not rows or (owner_id is not None and rows[0]["owner_id"] != owner_id):
        return None
    return _shape(rows[0])


DELIVERY_COLUMNS = "id, event_id, event_type, position, state, next_attempt_at, replay_id, created_at"


def list_deliveries(store: ReadStore, webhook_id: str, limit: int, offset: int) -> list[Row]:
    """A webhook's deliveries, newest first, each with every attempt made, oldest attempt first."""
    deliveries = store.query(f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?"
                             " ORDER BY seq DESC, id LIMIT ? OFFSET ?", (webhook_id, limit, offset))
    return _with_attempts(store, deliveries)


def _with_attempts(store: ReadStore, deliveries: list[Row]) -> list[Row]:
    if not deliveries:
        return []
    marks = ", ".join("?" for _ in deliveries)
    attempts: dict[str, list[Row]] = {row["id"]: [] for row in deliveries}
    for row in store.query(f"SELECT * FROM webhook_attempts WHERE delivery_id IN ({marks})"
                           " ORDER BY delivery_id, attempt", [row["id"] for row in deliveries]):
        attempts[row.pop("delivery_id")].append(row)
    return [{**row, "attempts": attempts[row["id"]]} for row in deliveries]


def get_delivery(store: ReadStore, webhook_id: str, delivery_id: str) -> Row | None:
    """One delivery of the webhook, with its attempts."""
    rows = store.query(f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? AND id = ?",
                       (webhook_id, delivery_id))
    return _with_attempts(store, rows)[0] if rows else None


def count_deliveries(store: ReadStore, webhook_id: str) -> int:
    return store.query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE webhook_id = ?", (webhook_id,))[0]["n"]


def replay_count(store: ReadStore, replay_id: str) -> int:
    return store.query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE replay_id = ?", (replay_id,))[0]["n"]
