"""Products: list, create, get, update, delete, regenerate the secret key."""

from uuid import UUID

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody

from api.deps import ActorDep, RuntimeDep
from api.envelope import Ok
from api.ports import Services
from api.schemas.common import Deleted
from api.schemas.products import Product, ProductCreate, ProductSecret, ProductUpdate, product_of
from commands.products import SECRET_PURPOSE
from domain.account import Actor
from domain.product import ProductNotFoundError
from keys.secrets import unseal
from projections import products
from projections.db import Row

SHOWN_IN = ("products",)
"""The read models a product write shows in (read-your-writes waits for these only)."""
CREATED_IN = (*SHOWN_IN, "notifications")
DELETED_IN = (*SHOWN_IN, "licenses", "notifications")


def _owner_filter(actor: Actor) -> str | None:
    return None if actor.is_admin else str(actor.id)


def _view(runtime: Services, actor: Actor, row: Row) -> Product:
    is_owner = row["owner_id"] == str(actor.id)
    secret = unseal(runtime.master_key, row["sealed_secret"], SECRET_PURPOSE) if is_owner else None
    return product_of(row, secret)


def _read(runtime: Services, actor: Actor, product_id: UUID) -> Product:
    row = products.get_product(runtime.store, str(product_id), _owner_filter(actor))
    if row is None:
        raise ProductNotFoundError(product_id)
    return _view(runtime, actor, row)


class ProductController(Controller):
    path = "/products"
    tags = ["products"]

    @get("/", sync_to_thread=True)
    def list_products(self, actor: ActorDep, runtime: RuntimeDep) -> Ok[list[Product]]:
        rows = products.list_products(runtime.store, _owner_filter(actor))
        return Ok(data=[_view(runtime, actor, row) for row in rows])

    @post("/", status_code=201, sync_to_thread=True)
    def create_product(self, data: JSONBody[ProductCreate], actor: ActorDep, runtime: RuntimeDep) -> Ok[Product]:
        receipt = runtime.ledger.create_product(
            actor, data.name, data.description, data.signing_algorithm, runtime.clock(), block_vm=data.block_vm,
            block_debugger=data.block_debugger, security_policy=data.security_policy,
            client_compatibility=data.client_compatibility or runtime.settings.client_compatibility)
        runtime.wait_for(receipt.position, CREATED_IN)
        return Ok(data=_read(runtime, actor, receipt.id))

    @get("/{product_id:uuid}", sync_to_thread=True)
    def get_product(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[Product]:
        return Ok(data=_read(runtime, actor, product_id))

    @put("/{product_id:uuid}", sync_to_thread=True)
    def update_product(self, product_id: FromPath[UUID], data: JSONBody[ProductUpdate], actor: ActorDep,
                       runtime: RuntimeDep) -> Ok[Product]:
        receipt = runtime.ledger.update_product(
            actor, product_id, runtime.clock(), name=data.name, description=data.description,
            is_active=data.is_active, signing_algorithm=data.signing_algorithm, block_vm=data.block_vm,
            block_debugger=data.block_debugger, security_policy=data.security_policy,
            client_compatibility=data.client_compatibility,
        )
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=_read(runtime, actor, product_id))

    @delete("/{product_id:uuid}", status_code=200, sync_to_thread=True)
    def delete_product(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[Deleted]:
        receipt = runtime.ledger.delete_product(actor, product_id, runtime.clock())
        runtime.wait_for(receipt.position, DELETED_IN)
        return Ok(data=Deleted(product_id, True))

    @post("/{product_id:uuid}/regenerate-secret", status_code=200, sync_to_thread=True)
    def regenerate_secret(self, product_id: FromPath[UUID], actor: ActorDep, runtime: RuntimeDep) -> Ok[ProductSecret]:
        receipt = runtime.ledger.rotate_product_secret(actor, product_id, runtime.clock())
        runtime.wait_for(receipt.position, SHOWN_IN)
        return Ok(data=ProductSecret(_read(runtime, actor, product_id).secret_key or None))  # UNSET: not the owner
