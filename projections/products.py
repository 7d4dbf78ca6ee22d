"""Products read model: a vendor's products, with the secret kept sealed."""

from __future__ import annotations

from typing import Any

from domain.product import BLOCK, RECORD, SECURITY_POLICY_DEFAULTS, Product
from projections.base import ReadModelProjection, iso
from projections.db import Cursor, ReadStore, Row


class ProductListProjection(ReadModelProjection):
    """One row per live product; a deleted product's row goes. A client protocol, and each detection beyond the
    `block_vm`/`block_debugger` columns, get a row of their own table only where a product set one (none: KeyLedger's
    protocol, SECURITY_POLICY_DEFAULTS), so older read models need no new column (decisions 0004 and 0070)."""

    name = "products"
    tables = ("products", "product_client_protocols", "product_security_policies")
    ddl = (
        "CREATE TABLE IF NOT EXISTS products ("
        " id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,"
        " sealed_secret TEXT NOT NULL, signing_algorithm TEXT NOT NULL, is_active INTEGER NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq BIGINT NOT NULL,"
        " block_vm INTEGER NOT NULL DEFAULT 0, block_debugger INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX IF NOT EXISTS products_owner ON products (owner_id, seq)",
        "CREATE TABLE IF NOT EXISTS product_client_protocols (id TEXT PRIMARY KEY, client_compatibility TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS product_security_policies ("
        " id TEXT NOT NULL, detection TEXT NOT NULL, action TEXT NOT NULL, PRIMARY KEY (id, detection))",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case Product.Created():
                self.product_created(cursor, event)
            case Product.Renamed():
                self.set_columns(cursor, event, name=event.name)
            case Product.DescriptionChanged():
                self.set_columns(cursor, event, description=event.description)
            case Product.Disabled():
                self.set_columns(cursor, event, is_active=0)
            case Product.Enabled():
                self.set_columns(cursor, event, is_active=1)
            case Product.SigningAlgorithmChanged():
                self.set_columns(cursor, event, signing_algorithm=event.signing_algorithm.value)
            case Product.Updated():
                self.product_updated(cursor, event)
            case Product.SecurityPolicyChanged():
                self.security_policy_changed(cursor, event)
            case Product.ClientCompatibilityChanged():
                self.client_compatibility_changed(cursor, event)
            case Product.SecretRotated():
                self.set_columns(cursor, event, sealed_secret=event.sealed_secret)
            case Product.Deleted():
                cursor.execute("DELETE FROM products WHERE id = ?", (str(event.originator_id),))
                cursor.execute("DELETE FROM product_client_protocols WHERE id = ?", (str(event.originator_id),))
                cursor.execute("DELETE FROM product_security_policies WHERE id = ?", (str(event.originator_id),))
            case _:
                pass

    def product_created(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "INSERT INTO products VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 0, 0) ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), str(event.owner_id), event.name, event.description, event.sealed_secret,
             event.signing_algorithm.value, iso(event.at), iso(event.at), self.position),
        )

    def product_updated(self, cursor: Cursor, event: Any) -> None:
        """A change as earlier versions recorded it: every field given at once (None: left alone)."""
        changes = {
            "name": event.name,
            "description": event.description,
            "is_active": None if event.is_active is None else int(event.is_active),
            "signing_algorithm": event.signing_algorithm and event.signing_algorithm.value,
        }
        self.set_columns(cursor, event, **{k: v for k, v in changes.items() if v is not None})

    def client_compatibility_changed(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "INSERT INTO product_client_protocols VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET client_compatibility = excluded.client_compatibility",
            (str(event.originator_id), event.client_compatibility.value),
        )
        self.set_columns(cursor, event)

    def security_policy_changed(self, cursor: Cursor, event: Any) -> None:
        actions = dict(event.actions)
        flags = {column: int(actions.pop(detection) == BLOCK) for column, detection in FLAG_COLUMNS.items()
                 if detection in actions}
        for detection, action in actions.items():
            cursor.execute(
                "INSERT INTO product_security_policies VALUES (?, ?, ?)"
                " ON CONFLICT (id, detection) DO UPDATE SET action = excluded.action",
                (str(event.originator_id), detection, action))
        self.set_columns(cursor, event, **flags)

    def set_columns(self, cursor: Cursor, event: Any, **columns: Any) -> None:
        assignments = "".join(f"{column} = ?, " for column in columns)
        cursor.execute(
            f"UPDATE products SET {assignments}updated_at = ? WHERE id = ?",
            (*columns.values(), iso(event.at), str(event.originator_id)),
        )


FLAG_COLUMNS = {"block_vm": "vm_detected", "block_debugger": "debug_detected"}
"""The detections whose action the products table keeps in a column of its own."""


def _shape(row: Row, policies: dict[str, str]) -> Row:
    flags = ("is_active", "block_vm", "block_debugger")
    policy = {**SECURITY_POLICY_DEFAULTS, **policies,
              **{detection: BLOCK if row[column] else RECORD for column, detection in FLAG_COLUMNS.items()}}
    return {**row, **{flag: bool(row[flag]) for flag in flags}, "security_policy": policy}


def _policies(store: ReadStore, rows: list[Row]) -> dict[str, dict[str, str]]:
    """The detections each of `rows`' products set, beyond its flag columns."""
    if not rows:
        return {}
    marks = ", ".join("?" for _ in rows)
    found: dict[str, dict[str, str]] = {}
    for row in store.query(f"SELECT id, detection, action FROM product_security_policies WHERE id IN ({marks})",
                           [row["id"] for row in rows]):
        found.setdefault(row["id"], {})[row["detection"]] = row["action"]
    return found


def _shaped(store: ReadStore, rows: list[Row]) -> list[Row]:
    policies = _policies(store, rows)
    return [_shape(row, policies.get(row["id"], {})) for row in rows]


SELECT = ("SELECT products.*, COALESCE(protocols.client_compatibility, 'keyledger') AS client_compatibility"
          " FROM products LEFT JOIN product_client_protocols protocols ON protocols.id = products.id")


def list_products(store: ReadStore, owner_id: str | None) -> list[Row]:
    """A vendor's products (every product when owner_id is None: an admin's view)."""
    if owner_id is None:
        rows = store.query(f"{SELECT} ORDER BY seq")
    else:
        rows = store.query(f"{SELECT} WHERE owner_id = ? ORDER BY seq", (owner_id,))
    return _shaped(store, rows)


def get_product(store: ReadStore, product_id: str, owner_id: str | None) -> Row | None:
    """The product if it exists and the owner may see it (owner_id None: admin)."""
    rows = store.query(f"{SELECT} WHERE products.id = ?", (product_id,))
    if not rows or (owner_id is not None and rows[0]["owner_id"] != owner_id):
        return None
    return _shaped(store, rows[:1])[0]
