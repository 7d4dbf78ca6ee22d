"""Product requests and answers."""

from typing import Any, Literal
from uuid import UUID

import msgspec

from api.schemas.common import Description, Instant, Name
from domain.product import ClientCompatibility, SigningAlgorithm


Detection = Literal["hwid_spoof_attempt", "ip_mismatch", "geo_anomaly", "vm_detected", "debug_detected"]
"""The detections a product's security policy decides (domain/product.py SECURITY_POLICY_DEFAULTS)."""
SecurityPolicy = dict[Detection, Literal["block", "record"]]
"""What each detection does: `block` refuses the call (`SECURITY_VIOLATION`), `record` only records it."""


class ProductCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Description = ""
    signing_algorithm: SigningAlgorithm = SigningAlgorithm.RSA
    block_vm: bool | None = None
    """Shorthand for `security_policy.vm_detected` (true: `block`); the two must agree."""
    block_debugger: bool | None = None
    """Shorthand for `security_policy.debug_detected`."""
    security_policy: SecurityPolicy | None = None
    """The detections to block or only record; those not named keep their defaults (all `record`)."""
    client_compatibility: ClientCompatibility | None = None
    """None: the server's KEYLEDGER_CLIENT_COMPATIBILITY."""


class ProductUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    description: Description | None = None
    is_active: bool | None = None
    signing_algorithm: SigningAlgorithm | None = None
    block_vm: bool | None = None
    block_debugger: bool | None = None
    security_policy: SecurityPolicy | None = None
    """The detections whose action changes; those not named keep theirs."""
    client_compatibility: ClientCompatibility | None = None


class Product(msgspec.Struct, forbid_unknown_fields=True):
    """The spec's product; `secret_key` is shown to the product's owner only (absent for an admin looking on)."""

    id: UUID
    name: str
    description: str
    is_active: bool
    signing_algorithm: SigningAlgorithm
    block_vm: bool
    block_debugger: bool
    security_policy: SecurityPolicy
    """Every detection's action (`block_vm` and `block_debugger` repeat two of them)."""
    client_compatibility: ClientCompatibility
    created_at: Instant
    updated_at: Instant
    secret_key: str | msgspec.UnsetType = msgspec.UNSET


ROW_FIELDS = [name for name in Product.__struct_fields__ if name != "secret_key"]


class ProductSecret(msgspec.Struct, forbid_unknown_fields=True):
    """The new secret key; null when an admin rotates another vendor's product (only its owner sees it)."""

    secret_key: str | None


def product_of(row: dict[str, Any], secret_key: str | None) -> Product:
    """The spec's product from its read-model row; `secret_key` only for the product's owner."""
    product = msgspec.convert({name: row[name] for name in ROW_FIELDS}, Product)
    if secret_key is not None:
        product.secret_key = secret_key
    return product
