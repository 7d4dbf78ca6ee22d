"""Product commands: create, update, rotate the secret key, delete."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.account import Actor
from domain.product import (
    ClientCompatibility,
    Product,
    ProductNotFoundError,
    ProductSecretIndex,
    SigningAlgorithm,
    requested_security_policy,
)
from keys.secrets import lookup_id, new_product_secret, seal, unseal

SECRET_PURPOSE = "product-secret"


class ProductCommands(CommandsBase):
    """The product part of the Ledger."""

    def create_product(
        self, actor: Actor, name: str, description: str, signing_algorithm: SigningAlgorithm, at: datetime, *,
        block_vm: bool | None = None, block_debugger: bool | None = None,
        security_policy: dict[str, str] | None = None,
        client_compatibility: ClientCompatibility = ClientCompatibility.KEYLEDGER,
    ) -> Receipt:
        """Create a product with a fresh `sk_live_…` secret, stored sealed."""
        wanted = requested_security_policy(block_vm, block_debugger, security_policy)
        sealed, lookup = self._new_secret()
        product = Product(actor.id, name, description, sealed, lookup, signing_algorithm, at)
        product.set_security_policy(wanted, at)
        product.set_client_compatibility(client_compatibility, at)
        index = ProductSecretIndex(id=lookup, product_id=product.id)
        return Receipt(product.id, self.record(product, index))

    def get_product(self, actor: Actor, product_id: UUID) -> Product:
        product = self._load(product_id, Product, ProductNotFoundError)
        product.require_visible_to(actor.id, actor.is_admin)
        return product

    @retry_on_conflict
    def update_product(
        self,
        actor: Actor,
        product_id: UUID,
        at: datetime,
        *,
        name: str | None = None,
        description: str | None = None,
        is_active: bool | None = None,
        signing_algorithm: SigningAlgorithm | None = None,
        block_vm: bool | None = None,
        block_debugger: bool | None = None,
        security_policy: dict[str, str] | None = None,
        client_compatibility: ClientCompatibility | None = None,
    ) -> Receipt:
        wanted = requested_security_policy(block_vm, block_debugger, security_policy)
        product = self.get_product(actor, product_id)
        product.update(name, description, is_active, signing_algorithm, at)
        product.set_security_policy(wanted, at)
        product.set_client_compatibility(client_compatibility, at)
        return Receipt(product.id, self.record(product))

    @retry_on_conflict
    def rotate_product_secret(self, actor: Actor, product_id: UUID, at: datetime) -> Receipt:
        """Replace the secret key; the old one stops working at once."""
        product = self.get_product(actor, product_id)
        old_index = self._load(product.secret_lookup_id, ProductSecretIndex, ProductNotFoundError)
        old_index.retire(at)
        sealed, lookup = self._new_secret()
        product.rotate_secret(sealed, lookup, at)
        new_index = ProductSecretIndex(id=lookup, product_id=product.id)
        return Receipt(product.id, self.record(product, old_index, new_index))

    @retry_on_conflict
    def delete_product(self, actor: Actor, product_id: UUID, at: datetime) -> Receipt:
        """Delete a product; its licenses stop validating and leave the vendor's lists."""
        product = self.get_product(actor, product_id)
        index = self._load(product.secret_lookup_id, ProductSecretIndex, ProductNotFoundError)
        index.retire(at)
        product.delete(at)
        return Receipt(product.id, self.record(product, index))

    def reveal_product_secret(self, product: Product) -> str:
        return unseal(self.master_key, product.sealed_secret, SECRET_PURPOSE)

    def find_product_by_secret(self, secret: str) -> Product:
        """The product whose current secret this is (Lockence's `api_key`), or not found."""
        index_id = lookup_id(self.master_key, SECRET_PURPOSE, secret)
        if not self._exists(index_id):
            raise ProductNotFoundError(index_id)
        index = self._load(index_id, ProductSecretIndex, ProductNotFoundError)
        product = self._load(index.product_id, Product, ProductNotFoundError)
        if index.is_retired or product.is_deleted:
            raise ProductNotFoundError(product.id)
        return product

    def _new_secret(self) -> tuple[str, UUID]:
        secret = new_product_secret()
        return seal(self.master_key, secret, SECRET_PURPOSE), lookup_id(self.master_key, SECRET_PURPOSE, secret)
