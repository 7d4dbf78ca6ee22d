"""Product requests and the product shape."""

from typing import Any

import msgspec

from api.schemas.common import Description, Name
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


def product_view(row: dict[str, Any], secret_key: str | None) -> dict[str, Any]:
    """The spec's product; `secret_key` only for the product's owner."""
    view = {key: row[key] for key in ("id", "name", "description", "is_active", "signing_algorithm",
                                      "block_vm", "block_debugger", "client_compatibility", "created_at",
                                      "updated_at")}
    if secret_key is not None:
        view["secret_key"] = secret_key
    return view
