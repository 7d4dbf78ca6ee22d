"""Product aggregate: something a vendor sells licenses for, with its sealed secret key."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import InvalidValueError, NotFoundError

_T = TypeVar("_T")


class SigningAlgorithm(Enum):
    RSA = "rsa-4096"
    ED25519 = "ed25519"


class ClientCompatibility(Enum):
    """Whose client protocol a product's client answers follow: KeyLedger's documented one, or the one the
    published LicenseCM SDKs expect (docs/migrating-from-licensecm.md)."""

    KEYLEDGER = "keyledger"
    LICENSECM_SDK = "licensecm-sdk"


BLOCK, RECORD = "block", "record"

SECURITY_POLICY_DEFAULTS: dict[str, str] = {
    "hwid_spoof_attempt": RECORD, "ip_mismatch": RECORD, "geo_anomaly": RECORD,
    "vm_detected": RECORD, "debug_detected": RECORD,
}
"""The detections a product's security policy decides (`block`: the call is refused `SECURITY_VIOLATION`;
`record`: it is only recorded), and what a product that chose nothing does. Every other rule always refuses
(docs/licensing-rules.md says why)."""


def _action(blocks: bool) -> str:
    return BLOCK if blocks else RECORD


class ProductNotFoundError(NotFoundError):
    """Raised when a product does not exist, was deleted, or belongs to another vendor."""


class Product(Aggregate):
    """Owner, description and the secret key (stored sealed, never in clear)."""

    class_version = 3  # v2 keeps the client protocol (`client_compatibility`); v3 the whole security policy

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A v1 snapshot predates the setting: its product answered in KeyLedger's own protocol."""
        state["client_compatibility"] = ClientCompatibility.KEYLEDGER

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A v2 snapshot kept two flags of the policy; the other detections were left at their defaults."""
        state["security_policy"] = {"vm_detected": _action(state.pop("block_vm", False)),
                                    "debug_detected": _action(state.pop("block_debugger", False))}

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
        self.security_policy: dict[str, str] = {}  # explicit choices only: SECURITY_POLICY_DEFAULTS for the rest
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

    def blocks(self, detection: str) -> bool:
        """Whether the product's policy refuses a call in which `detection` was found."""
        return self.security_policy.get(detection, SECURITY_POLICY_DEFAULTS.get(detection, BLOCK)) == BLOCK

    @property
    def full_security_policy(self) -> dict[str, str]:
        return {**SECURITY_POLICY_DEFAULTS, **self.security_policy}

    def set_security_policy(self, wanted: dict[str, str], at: datetime) -> None:
        """Set the action of each detection named in `wanted` (`block` or `record`); records the ones that change."""
        for detection, action in wanted.items():
            if detection not in SECURITY_POLICY_DEFAULTS or action not in (BLOCK, RECORD):
                raise InvalidValueError(f"security_policy: {detection!r} cannot be {action!r}")
        changed = {detection: action for detection, action in wanted.items()
                   if self.full_security_policy[detection] != action}
        if changed:
            self._change_security_policy(actions=dict(sorted(changed.items())), at=at)

    class SecurityPolicyChanged(Aggregate.Event):
        """Some detections' actions changed (the others kept theirs). Version 1 carried only the two environment
        flags, `block_vm` and `block_debugger`, both each time."""

        actions: dict[str, str]
        at: datetime
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["actions"] = {"debug_detected": _action(state.pop("block_debugger")),
                                "vm_detected": _action(state.pop("block_vm"))}

    @event(SecurityPolicyChanged)
    def _change_security_policy(self, actions: dict[str, str], at: datetime) -> None:
        self.security_policy = {**self.security_policy, **actions}

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


def requested_security_policy(block_vm: bool | None, block_debugger: bool | None,
                              security_policy: dict[str, str] | None) -> dict[str, str]:
    """The policy a vendor asked for: `security_policy`'s entries, and the older flags `block_vm` and
    `block_debugger` as `vm_detected` and `debug_detected` (None: not given); the two must agree."""
    wanted = dict(security_policy or {})
    for detection, flag in (("vm_detected", block_vm), ("debug_detected", block_debugger)):
        if flag is not None and wanted.setdefault(detection, _action(flag)) != _action(flag):
            raise InvalidValueError(f"security_policy.{detection} contradicts the flag given beside it")
    return wanted


def _given(value: _T | None, current: _T) -> _T:
    return current if value is None else value
