"""Webhook dispatcher: follows the event store as a projection does and records each delivery due.

For each event that means one of the public webhook types (WEBHOOK_TYPES), it writes one delivery per matching
webhook of the event's owner into `webhook_deliveries`, in the same transaction as its position, so every delivery
is recorded exactly once, and only once its event is. Its small tables of who owns what are as of that position, and
it is never rebuilt: a rebuild would send every event again (decision 0055). After each batch commits it hands the
new deliveries to the queue; one the queue loses is found again by the sweep (workers/deliveries.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID, uuid5

import msgspec
from eventsourcing.persistence import Tracking

from domain.account import Account, Role
from domain.ids import NAMESPACE
from domain.license import License
from domain.product import Product
from domain.security import SecurityAlert
from domain.webhook import Webhook
from projections.base import ReadModelProjection, iso, to_json
from projections.db import Cursor
from projections.webhooks import DELIVERY_DDL

WEBHOOK_TYPES: dict[type, str] = {
    License.Issued: "license.created",
    License.ActivatedOnDevice: "license.activated",
    License.DeactivatedOnDevice: "license.deactivated",
    License.HwidReset: "license.deactivated",
    License.Expired: "license.expired",
    License.Suspended: "license.suspended",
    License.Deleted: "license.deleted",
}
"""Domain event → public webhook name (STYLE.md 11). SecurityAlert.Raised is `security.blocked` when it
blocked something, else `security.alert`. A HWID reset is one `license.deactivated` per device it released;
Product.Deleted is one `license.deleted` per license of the product still there."""

ADMINS = "admins"
"""The owner of a security alert that names no product: every admin account's webhooks receive it."""

EventReader = Callable[[int, int], Iterator[tuple[int, Any]]]
"""(after, upto) → each (position, domain event) recorded in that range, in order."""


class Message(NamedTuple):
    """One public webhook event, before it is addressed to any webhook."""

    event_id: str
    type: str
    owner: str
    body: str


class WebhookDispatcher(ReadModelProjection):
    """Turns events into deliveries. `enqueue` receives the ids of the deliveries each batch recorded."""

    name = "webhook_dispatch"  # its tracking row: never renamed
    tables = ()  # nothing for a rebuild to drop (see the module's note)
    ddl = (
        *DELIVERY_DDL,
        "CREATE TABLE IF NOT EXISTS webhook_routes (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, url TEXT NOT NULL,"
        " events TEXT NOT NULL, sealed_secret TEXT NOT NULL, is_active INTEGER NOT NULL, is_deleted INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS webhook_routes_owner ON webhook_routes (owner_id)",
        "CREATE TABLE IF NOT EXISTS webhook_licenses (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL,"
        " product_id TEXT NOT NULL, license_key TEXT NOT NULL, deleted_at BIGINT)",
        "CREATE INDEX IF NOT EXISTS webhook_licenses_product ON webhook_licenses (product_id)",
        "CREATE TABLE IF NOT EXISTS webhook_products (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS webhook_admins (id TEXT PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS webhook_failures (webhook_id TEXT PRIMARY KEY, consecutive INTEGER NOT NULL)",
    )

    def __init__(self, view: Any, read_events: EventReader, enqueue: Callable[[list[str]], None]) -> None:
        super().__init__(view)
        self.read_events = read_events
        self.enqueue = enqueue
        self._fresh: list[str] = []

    def process_batch(self, batch: Sequence[tuple[Any, Tracking]], after: int | None = None) -> int:
        """Record the batch's deliveries with its position, then queue them (only once they are committed)."""
        self._fresh = []
        position = super().process_batch(batch, after)
        fresh, self._fresh = self._fresh, []
        if fresh:
            self.enqueue(fresh)
        return position

    def apply(self, cursor: Cursor, event: Any) -> None:
        self.remember(cursor, event)
        match event:
            case Webhook.ReplayRequested():
                self.replay(cursor, event)
            case Webhook.RetryRequested():
                self.retry(cursor, event)
            case _:
                for message in messages(cursor, event, self.position):
                    self.dispatch(cursor, message, event.at)

    def remember(self, cursor: Cursor, event: Any) -> None:
        """Keep who owns what, and each webhook's route, as of this event."""
        match event:
            case Account.Registered() | Account.RoleChanged():
                self.account_role(cursor, str(event.originator_id), event.role)
            case Product.Created():
                cursor.execute("INSERT INTO webhook_products VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id)))
            case License.Issued():
                cursor.execute("INSERT INTO webhook_licenses VALUES (?, ?, ?, ?, NULL) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id), str(event.product_id), event.key))
            case License.Deleted():
                cursor.execute("UPDATE webhook_licenses SET deleted_at = ? WHERE id = ?",
                               (self.position, str(event.originator_id)))
            case Webhook.Registered():
                cursor.execute("INSERT INTO webhook_routes VALUES (?, ?, ?, ?, ?, 1, 0) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id), event.url, to_json(event.events),
                                event.sealed_secret))
            case Webhook.Changed():
                self.webhook_changed(cursor, event)
            case Webhook.Disabled():
                cursor.execute("UPDATE webhook_routes SET is_active = 0 WHERE id = ?", (str(event.originator_id),))
            case Webhook.Deleted():
                cursor.execute("UPDATE webhook_routes SET is_deleted = 1 WHERE id = ?", (str(event.originator_id),))
            case _:
                pass

    def account_role(self, cursor: Cursor, account_id: str, role: Role) -> None:
        if role is Role.ADMIN:
            cursor.execute("INSERT INTO webhook_admins VALUES (?) ON CONFLICT (id) DO NOTHING", (account_id,))
        else:
            cursor.execute("DELETE FROM webhook_admins WHERE id = ?", (account_id,))

    def webhook_changed(self, cursor: Cursor, event: Any) -> None:
        """A change that turns the endpoint on again forgives its failures (the owner says it is fixed)."""
        webhook_id = str(event.originator_id)
        cursor.execute("UPDATE webhook_routes SET url = ?, events = ?, sealed_secret = ?, is_active = ? WHERE id = ?",
                       (event.url, to_json(event.events), event.sealed_secret, int(event.is_active), webhook_id))
        if event.is_active:
            cursor.execute("DELETE FROM webhook_failures WHERE webhook_id = ?", (webhook_id,))

    def dispatch(self, cursor: Cursor, message: Message, at: datetime) -> None:
        """One delivery for each live webhook of the message's owner that wants its type."""
        owner_clause = "owner_id IN (SELECT id FROM webhook_admins)" if message.owner == ADMINS else "owner_id = ?"
        cursor.execute(f"SELECT id, events FROM webhook_routes WHERE {owner_clause} AND is_active = 1"
                       " AND is_deleted = 0 ORDER BY id", () if message.owner == ADMINS else (message.owner,))
        for route in cursor.fetchall():
            if message.type in msgspec.json.decode(route["events"]):
                self.record_delivery(cursor, route["id"], message, self.position, at, None)

    def record_delivery(self, cursor: Cursor, webhook_id: str, message: Message, position: int, due: datetime,
                        replay_id: str | None) -> None:
        delivery_id = str(uuid5(NAMESPACE, f"webhook-delivery:{webhook_id}:{message.event_id}:{replay_id or ''}"))
        cursor.execute(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, position, body, state, attempts,"
            " next_attempt_at, lease_until, replay_id, created_at, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (delivery_id, webhook_id, message.event_id, message.type, position, message.body, iso(due), replay_id,
             iso(due), self.position))
        self._fresh.append(delivery_id)

    def replay(self, cursor: Cursor, event: Any) -> None:
        """Record a delivery of every matching event in the replay's range, read from the event store."""
        cursor.execute("SELECT owner_id, events FROM webhook_routes WHERE id = ? AND is_deleted = 0",
                       (str(event.originator_id),))
        route = cursor.fetchone()
        if route is None:
            return
        wanted = set(msgspec.json.decode(route["events"]))
        for position, old in self.read_events(event.after, event.upto):
            if event.since is not None and getattr(old, "at", event.since) < event.since:
                continue
            for message in messages(cursor, old, position):
                if message.type in wanted and self.reaches(cursor, message.owner, route["owner_id"]):
                    self.record_delivery(cursor, str(event.originator_id), message, position, event.at,
                                         str(event.replay_id))

    def reaches(self, cursor: Cursor, owner: str, webhook_owner: str) -> bool:
        if owner != ADMINS:
            return owner == webhook_owner
        cursor.execute("SELECT id FROM webhook_admins WHERE id = ?", (webhook_owner,))
        return cursor.fetchone() is not None

    def retry(self, cursor: Cursor, event: Any) -> None:
        """Make one delivery of this webhook due now, whatever its state (a new attempt, the same body)."""
        cursor.execute("UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, lease_until = NULL"
                       " WHERE id = ? AND webhook_id = ?",
                       (iso(event.at), str(event.delivery_id), str(event.originator_id)))
        self._fresh.append(str(event.delivery_id))


def messages(cursor: Cursor, event: Any, position: int) -> list[Message]:
    """The public webhook events a domain event (recorded at `position`) means: none for most."""
    if isinstance(event, SecurityAlert.Raised):
        return [security_message(cursor, event)]
    if isinstance(event, Product.Deleted):
        return product_deleted(cursor, event, position)
    kind = WEBHOOK_TYPES.get(type(event))
    if kind is None:
        return []
    cursor.execute("SELECT owner_id, product_id, license_key FROM webhook_licenses WHERE id = ?",
                   (str(event.originator_id),))
    row = cursor.fetchone()
    if row is None:
        return []
    base = {"license_id": str(event.originator_id), "license_key": row["license_key"], "product_id": row["product_id"]}
    return [message(event, kind, row["owner_id"], {**base, **details}, suffix) for details, suffix in
            license_details(event)]


def license_details(event: Any) -> list[tuple[dict[str, Any], str]]:
    """What each license message says beyond the license, with what tells its event id apart (a HWID reset's)."""
    match event:
        case License.Issued():
            return [({"type": event.license_type.value, "max_uses": event.max_uses, "hwid_locked": event.hwid_locked,
                      "expires_at": iso(event.expires_at), "metadata": event.metadata}, "")]
        case License.ActivatedOnDevice():
            return [({"hwid": event.hwid}, "")]
        case License.DeactivatedOnDevice():
            return [({"hwid": event.hwid, "reason": "deactivated"}, "")]
        case License.HwidReset():
            return [({"hwid": hwid, "reason": "hwid_reset"}, f":{hwid}") for hwid in event.released]
        case License.Expired():
            return [({"expires_at": iso(event.expired_at)}, "")]
        case License.Suspended():
            return [({"reason": event.reason}, "")]
        case _:  # License.Deleted
            return [({"reason": "deleted"}, "")]


def product_deleted(cursor: Cursor, event: Any, position: int) -> list[Message]:
    """Deleting a product deletes its licenses: one `license.deleted` for each not deleted before."""
    cursor.execute("SELECT id, owner_id, license_key FROM webhook_licenses WHERE product_id = ?"
                   " AND (deleted_at IS NULL OR deleted_at > ?) ORDER BY id", (str(event.originator_id), position))
    return [message(event, "license.deleted", row["owner_id"],
                    {"license_id": row["id"], "license_key": row["license_key"],
                     "product_id": str(event.originator_id), "reason": "product_deleted"}, f":{row['id']}")
            for row in cursor.fetchall()]


def security_message(cursor: Cursor, event: Any) -> Message:
    """Blocked or not; to the product's owner, or to the admins when it names no product."""
    owner = ADMINS
    if event.product_id is not None:
        cursor.execute("SELECT owner_id FROM webhook_products WHERE id = ?", (str(event.product_id),))
        row = cursor.fetchone()
        owner = row["owner_id"] if row is not None else ADMINS
    data = {"event_type": event.event_type, "severity": event.severity, "blocked": event.blocked,
            "product_id": _text(event.product_id), "license_id": _text(event.license_id), "ip": event.ip,
            "hwid": event.hwid, "details": event.details}
    return message(event, "security.blocked" if event.blocked else "security.alert", owner, data, "")


def message(event: Any, kind: str, owner: str, data: dict[str, Any], suffix: str) -> Message:
    """The body every delivery of this event sends, byte for byte: `{id, type, created_at, data}`."""
    event_id = str(uuid5(NAMESPACE, f"webhook-event:{event.originator_id}:{event.originator_version}{suffix}"))
    body = msgspec.json.encode({"id": event_id, "type": kind, "created_at": iso(event.at), "data": data})
    return Message(event_id, kind, owner, body.decode())


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)
