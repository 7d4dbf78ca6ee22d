"""Product aggregate: something a vendor sells licenses for, with its sealed secret key."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import NotFoundError

_T = TypeVar("_T")


class SigningAlgorithm(Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hash runs Python code (each answer looks one up)

    RSA = "rsa-4096"
    ED25519 = "ed25519"


class ClientCompatibility(Enum):
    """Whose client protocol a product's client answers follow: KeyLedger's documented one, or the one the
    published LicenseCM SDKs expect (docs/migrating-from-licensecm.md)."""

    __hash__ = object.__hash__  # as SigningAlgorithm: each answer looks one up

    KEYLEDGER = "keyledger"
    LICENSECM_SDK = "licensecm-sdk"


class ProductNotFoundError(NotFoundError):
    """Raised when a product does not exist, was deleted, or belongs to another vendor."""


class Product(Aggregate):
    """Owner, description and the secret key (stored sealed, never in clear)."""

    class_version = 2  # v2 keeps the client protocol its answers follow (`client_compatibility`)

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A v1 snapshot predates the setting: its product answered in KeyLedger's own protocol."""
        state["client_compatibility"] = ClientCompatibility.KEYLEDGER

    @event("Created")
    def __init__(
        self,
        owner_id: UUID,
        name: str,
        description: str,
        sealed_secret: str,
        secret_lookup_id: UUID,
        signing_algorithm: SigningAlgorithm,
        at: datetime,
    ) -> None:
        self.owner_id = owner_id
        self.name = name
        self.sealed_secret = sealed_secret
        self.secret_lookup_id = secret_lookup_id
        self.signing_algorithm = signing_algorithm
        self.is_active = True
        self.is_deleted = False
        self.block_vm = False
        self.block_debugger = False
        self.client_compatibility = ClientCompatibility.KEYLEDGER

    @classmethod
    def imported(cls, product_id: UUID, owner_id: UUID, name: str, description: str, sealed_secret: str,
                 secret_lookup_id: UUID, signing_algorithm: SigningAlgorithm, at: datetime) -> Product:
        """A product brought over from another server under its old id, which its shipped clients embed."""
        return cls._create(cls.Created, id=product_id, owner_id=owner_id, name=name, description=description,
                           sealed_secret=sealed_secret, secret_lookup_id=secret_lookup_id,
                           signing_algorithm=signing_algorithm, at=at)

    def require_visible_to(self, actor_id: UUID, is_admin: bool) -> None:
        """Tenancy: another vendor's product is indistinguishable from a missing one."""
        if self.is_deleted or not (is_admin or self.owner_id == actor_id):
            raise ProductNotFoundError(self.id)

    def update(
        self,
        name: str | None,
        description: str | None,
        is_active: bool | None,
        signing_algorithm: SigningAlgorithm | None,
        at: datetime,
    ) -> None:
        """Apply a vendor's change: each given field that differs is its own event. The description is not
        kept here (no rule reads it), so a given one is always recorded."""
        if name is not None and name != self.name:
            self._rename(name=name, at=at)
        if description is not None:
            self._change_description(description=description, at=at)
        if is_active is True and not self.is_active:
            self._enable(at=at)
        elif is_active is False and self.is_active:
            self._disable(at=at)
        if signing_algorithm is not None and signing_algorithm is not self.signing_algorithm:
            self._change_signing_algorithm(signing_algorithm=signing_algorithm, at=at)

    @event("Renamed")
    def _rename(self, name: str, at: datetime) -> None:
        self.name = name

    @event("DescriptionChanged")
    def _change_description(self, description: str, at: datetime) -> None:
        pass

    @event("Disabled")
    def _disable(self, at: datetime) -> None:
        self.is_active = False

    @event("Enabled")
    def _enable(self, at: datetime) -> None:
        self.is_active = True

    @event("SigningAlgorithmChanged")
    def _change_signing_algorithm(self, signing_algorithm: SigningAlgorithm, at: datetime) -> None:
        self.signing_algorithm = signing_algorithm

    class Updated(Aggregate.Event):
        """Any change of name, description, activity or algorithm, as earlier versions recorded it (None: left
        alone). No longer recorded; kept so that stored ones still replay (docs/decisions/0028)."""

        name: str | None
        description: str | None
        is_active: bool | None
        signing_algorithm: SigningAlgorithm | None
        at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.name = _given(self.name, aggregate.name)
            aggregate.is_active = _given(self.is_active, aggregate.is_active)
            aggregate.signing_algorithm = _given(self.signing_algorithm, aggregate.signing_algorithm)

    def set_security_policy(self, block_vm: bool | None, block_debugger: bool | None, at: datetime) -> None:
        """Whether clients reporting VM or debugger indicators are refused (they are always recorded)."""
        wanted = (_given(block_vm, self.block_vm), _given(block_debugger, self.block_debugger))
        if wanted != (self.block_vm, self.block_debugger):
            self._set_security_policy(block_vm=wanted[0], block_debugger=wanted[1], at=at)

    @event("SecurityPolicyChanged")
    def _set_security_policy(self, block_vm: bool, block_debugger: bool, at: datetime) -> None:
        self.block_vm = block_vm
        self.block_debugger = block_debugger

    def set_client_compatibility(self, client_compatibility: ClientCompatibility | None, at: datetime) -> None:
        """Which client protocol the product's client answers follow (None: leave it)."""
        if client_compatibility is not None and client_compatibility is not self.client_compatibility:
            self._change_client_compatibility(client_compatibility=client_compatibility, at=at)

    @event("ClientCompatibilityChanged")
    def _change_client_compatibility(self, client_compatibility: ClientCompatibility, at: datetime) -> None:
        self.client_compatibility = client_compatibility

    @event("LicensesIssued")
    def record_licenses_issued(self, count: int, batch_id: UUID | None, at: datetime) -> None:
        """Issuing touches the product, so it conflicts with a racing delete instead of outliving it."""

    @event("SecretRotated")
    def rotate_secret(self, sealed_secret: str, secret_lookup_id: UUID, at: datetime) -> None:
        self.sealed_secret = sealed_secret
        self.secret_lookup_id = secret_lookup_id

    @event("Deleted")
    def delete(self, at: datetime) -> None:
        self.is_deleted = True


class ProductSecretIndex(Aggregate):
    """Maps a secret's lookup id to its product, so `api_key` finds a product without a read model."""

    def __init__(self, id: UUID, product_id: UUID) -> None:  # noqa: A002 - id is the secret's lookup id
        self.product_id = product_id
        self.is_retired = False

    @event("Retired")
    def retire(self, at: datetime) -> None:
        self.is_retired = True


def _given(value: _T | None, current: _T) -> _T:
    return current if value is None else value
