"""Product requests and answers."""

from typing import Any
from uuid import UUID

import msgspec

from api.schemas.common import Description, Instant, Name
from domain.product import ClientCompatibility, SigningAlgorithm


class ProductCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Description = ""
    signing_algorithm: SigningAlgorithm = SigningAlgorithm.RSA
    block_vm: bool = False
    block_debugger: bool = False
    client_compatibility: ClientCompatibility | None = None
    """None: the server's KEYLEDGER_CLIENT_COMPATIBILITY."""


class ProductUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    description: Description | None = None
    is_active: bool | None = None
    signing_algorithm: SigningAlgorithm | None = None
    block_vm: bool | None = None
    block_debugger: bool | None = None
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
