"""Notifications read model: what a vendor is told about, arising from events (never from API code)."""

from __future__ import annotations

from typing import Any
from uuid import uuid5

from domain.ids import NAMESPACE
from domain.account import Account, Role
from domain.inbox import Inbox
from domain.license import License
from domain.product import Product
from domain.webhook import Webhook
from domain.security import SecurityAlert
from projections.base import ReadModelProjection, iso, page_bounds
from projections.db import Cursor, ReadStore, Row

COLUMNS = "id, type, title, message, is_read, created_at"


class NotificationProjection(ReadModelProjection):
    """One row per notification; a bulk issue is one notification naming its count."""

    name = "notifications"
    tables = ("notifications", "notification_licenses", "notification_products", "notification_inboxes",
              "notification_webhooks", "notification_admins")
    ddl = (
        "CREATE TABLE IF NOT EXISTS notifications (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, type TEXT NOT NULL,"
        " title TEXT NOT NULL, message TEXT NOT NULL, is_read INTEGER NOT NULL, created_at TEXT NOT NULL,"
        " seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS notifications_owner ON notifications (owner_id, seq)",
        "CREATE TABLE IF NOT EXISTS notification_licenses (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL,"
        " license_key TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS notification_products (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL,"
        " name TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS notification_inboxes (id TEXT PRIMARY KEY, account_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS notification_webhooks (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL,"
        " url TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS notification_admins (id TEXT PRIMARY KEY, is_admin INTEGER NOT NULL)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case License.Issued():
                cursor.execute("INSERT INTO notification_licenses VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id), event.key))
            case Product.LicensesIssued():
                self.licenses_issued(cursor, event)
            case License.Suspended():
                self.about_license(cursor, event, "license_suspended", "License suspended",
                                   "License {key} was suspended: " + event.reason)
            case License.Expired():
                self.about_license(cursor, event, "license_expired", "License expired", "License {key} expired")
            case Product.Created():
                cursor.execute("INSERT INTO notification_products VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id), event.name))
            case Product.Deleted():
                self.product_deleted(cursor, event)
            case Account.Registered() | Account.RoleChanged():
                cursor.execute("INSERT INTO notification_admins VALUES (?, ?) ON CONFLICT (id) DO UPDATE"
                               " SET is_admin = excluded.is_admin",
                               (str(event.originator_id), int(event.role is Role.ADMIN)))
            case SecurityAlert.Raised() if event.event_type == "brute_force":
                self.tell_admins(cursor, event)
            case Inbox.Opened():
                cursor.execute("INSERT INTO notification_inboxes VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.account_id)))
            case Webhook.Registered():
                cursor.execute("INSERT INTO notification_webhooks VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
                               (str(event.originator_id), str(event.owner_id), event.url))
            case Webhook.Changed():
                cursor.execute("UPDATE notification_webhooks SET url = ? WHERE id = ?",
                               (event.url, str(event.originator_id)))
            case Webhook.Disabled():
                self.webhook_disabled(cursor, event)
            case Inbox.NotificationRead():
                self.mark_read(cursor, event, "id = ?", str(event.notification_id))
            case Inbox.AllRead():
                self.mark_read(cursor, event, "seq <= ?", self.position)
            case _:
                pass

    def licenses_issued(self, cursor: Cursor, event: Any) -> None:
        """A bulk issue (its batch has an id) is one notification, recorded on the product once per batch."""
        cursor.execute("SELECT owner_id FROM notification_products WHERE id = ?", (str(event.originator_id),))
        row = cursor.fetchone()
        if row is not None and event.batch_id is not None:
            self.insert_notification(cursor, uuid5(NAMESPACE, f"batch:{event.batch_id}"), row["owner_id"],
                                     "licenses_created", "Licenses created", f"{event.count} licenses created", event)

    def about_license(self, cursor: Cursor, event: Any, kind: str, title: str, message: str) -> None:
        cursor.execute("SELECT owner_id, license_key FROM notification_licenses WHERE id = ?",
                       (str(event.originator_id),))
        row = cursor.fetchone()
        if row is not None:
            notification_id = uuid5(NAMESPACE, f"notification:{event.originator_id}:{event.originator_version}")
            self.insert_notification(cursor, notification_id, row["owner_id"], kind, title,
                                     message.format(key=row["license_key"]), event)

    def product_deleted(self, cursor: Cursor, event: Any) -> None:
        notification_id = uuid5(NAMESPACE, f"notification:{event.originator_id}:{event.originator_version}")
        cursor.execute("SELECT owner_id, name FROM notification_products WHERE id = ?", (str(event.originator_id),))
        row = cursor.fetchone()
        if row is not None:
            self.insert_notification(cursor, notification_id, row["owner_id"], "product_deleted", "Product deleted",
                                     f"Product {row['name']} was deleted with its licenses", event)

    def webhook_disabled(self, cursor: Cursor, event: Any) -> None:
        cursor.execute("SELECT owner_id, url FROM notification_webhooks WHERE id = ?", (str(event.originator_id),))
        row = cursor.fetchone()
        if row is not None:
            notification_id = uuid5(NAMESPACE, f"notification:{event.originator_id}:{event.originator_version}")
            self.insert_notification(cursor, notification_id, row["owner_id"], "webhook_disabled", "Webhook disabled",
                                     f"Webhook {row['url']} was disabled after {event.consecutive_failures} failed"
                                     " deliveries in a row; fix it, then set is_active to true", event)

    def tell_admins(self, cursor: Cursor, event: Any) -> None:
        """A brute-force block is every admin's concern (the Security section is theirs alone)."""
        details = event.details
        message = (f"{event.ip} is blocked until {details.get('expires_at')}: {details.get('failures')}"
                   f" {str(details.get('reason', '')).replace('_', ' ')} within {details.get('window_seconds')} s")
        cursor.execute("SELECT id FROM notification_admins WHERE is_admin = 1")
        for row in cursor.fetchall():
            self.insert_notification(cursor, uuid5(NAMESPACE, f"notification:{event.originator_id}:{row['id']}"),
                                     row["id"], "security_alert", "Address blocked: brute force", message, event)

    def insert_notification(self, cursor: Cursor, notification_id: Any, owner_id: str, kind: str, title: str,
                            message: str, event: Any) -> None:
        cursor.execute("INSERT INTO notifications VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
                       (str(notification_id), owner_id, kind, title, message, iso(event.at), self.position))

    def mark_read(self, cursor: Cursor, event: Any, condition: str, value: Any) -> None:
        cursor.execute("SELECT account_id FROM notification_inboxes WHERE id = ?", (str(event.originator_id),))
        row = cursor.fetchone()
        if row is not None:
            cursor.execute(f"UPDATE notifications SET is_read = 1 WHERE owner_id = ? AND {condition}",
                           (row["account_id"], value))


def _shape(row: Row) -> Row:
    return {**row, "is_read": bool(row["is_read"])}


def list_notifications(store: ReadStore, owner_id: str, unread_only: bool, page: int, limit: int) -> list[Row]:
    """Newest first."""
    unread = " AND is_read = 0" if unread_only else ""
    size, offset = page_bounds(page, limit)
    rows = store.query(f"SELECT {COLUMNS} FROM notifications WHERE owner_id = ?{unread} ORDER BY seq DESC"
                       " LIMIT ? OFFSET ?", (owner_id, size, offset))
    return [_shape(row) for row in rows]


def get_notification(store: ReadStore, owner_id: str, notification_id: str) -> Row | None:
    rows = store.query(f"SELECT {COLUMNS} FROM notifications WHERE owner_id = ? AND id = ?",
                       (owner_id, notification_id))
    return _shape(rows[0]) if rows else None


def unread_count(store: ReadStore, owner_id: str) -> int:
    return store.query("SELECT COUNT(*) AS n FROM notifications WHERE owner_id = ? AND is_read = 0",
                       (owner_id,))[0]["n"]
