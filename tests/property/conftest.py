"""Property-test helpers: a small command language for vendor sessions, and how many examples to run.

Every example runs as a brand-new vendor (its own account id and products) on the test's one runtime,
so examples never see each other's licenses while the store keeps growing, as a real one does.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import strategies as st

from domain.account import Actor, LastAdminError, Role
from domain.client_call import ClientRequest
from domain.errors import InvalidValueError
from domain.license import (
    License,
    LicenseNotFoundError,
    LicenseStatus,
    LicenseTerms,
    LicenseType,
    MaxUsesBelowActivationsError,
)
from domain.product import ProductNotFoundError, SigningAlgorithm
from domain.refusals import ClientRefusedError
from keyledger.settings import Settings
from keyledger.wiring import Runtime
from workers.expiry import sweep_sessions

EXAMPLES = {"sqlite": 40, "postgres": 25}
"""Examples per property and backend: enough to shake out ordering bugs, few enough for a ~60 s file."""


@pytest.fixture
def examples(backend: str) -> int:
    return EXAMPLES[backend]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background sweeper: the `sweep` step runs it, so a write never lands between two snapshots."""
    return msgspec.structs.replace(settings, run_workers=False)


# --- A small command language: random vendor sessions, replayed against a runtime -----------------

which = st.integers(0, 99)  # which issued license (modulo how many there are)
hwids = st.sampled_from(["hw-1", "hw-2", "hw-3"])
expiry_days = st.sampled_from([None, -1, 1, 3, 20])  # relative to the step's `now`; None: never / trial default

valid_issue = st.tuples(st.just("issue"), st.integers(0, 1), st.sampled_from(LicenseType), st.integers(1, 3),
                        st.sampled_from([None, 2, 20])).map(
    lambda step: (*step[:4], None) if step[2] is LicenseType.LIFETIME else step)

any_step = st.one_of(
    st.tuples(st.just("issue"), st.integers(0, 1), st.sampled_from(LicenseType), st.integers(0, 3), expiry_days),
    st.tuples(st.just("issue_bulk"), st.integers(0, 1), st.integers(2, 3)),
    st.tuples(st.just("suspend"), which),
    st.tuples(st.just("reinstate"), which),
    st.tuples(st.just("change_limits"), which, st.integers(0, 3), st.booleans()),
    st.tuples(st.just("change_expiry"), which, expiry_days),
    st.tuples(st.just("change_metadata"), which, st.dictionaries(st.sampled_from("ab"), st.integers(0, 2), max_size=2)),
    st.tuples(st.just("activate"), which, hwids),
    st.tuples(st.just("deactivate"), which, hwids),
    st.tuples(st.just("reset_hwid"), which),
    st.tuples(st.just("delete"), which),
    st.tuples(st.just("sweep"), which),
    st.tuples(st.just("advance"), st.sampled_from([1, 24, 24 * 3, 24 * 15])),
    st.tuples(st.just("delete_product"), st.integers(0, 1)),
)

# A session opens with a few valid licenses, so the steps after it have something to act on.
steps = st.tuples(st.lists(valid_issue, min_size=1, max_size=3), st.lists(any_step, min_size=3, max_size=20)).map(
    lambda parts: parts[0] + parts[1])

account_steps = st.tuples(st.just("change_account"), st.sampled_from([None, *Role]), st.sampled_from([None, True, False]))


class Scenario:
    """One vendor's session of commands, remembering which licenses a correct read model must (not) show.

    Each step states the outcome it expects: success, or the one domain error the rules give.
    Anything else (a store error, the wrong refusal) fails the property.
    """

    def __init__(self, runtime: Runtime, register: bool = False) -> None:
        self.runtime, self.ledger, self.clock = runtime, runtime.ledger, runtime.clock
        at = self.clock()
        email = f"vendor-{uuid.uuid4().hex}@example.com"
        account_id = self.ledger.register_account(email, "secret123", "Vendor", at).id if register else uuid.uuid4()
        self.vendor = Actor(account_id)
        self.products = [self.ledger.create_product(self.vendor, name, "", SigningAlgorithm.ED25519, at).id
                         for name in ("One", "Two")]
        self.dropped_products: set[UUID] = set()
        self.licenses: list[UUID] = []
        self.product_of: dict[UUID, UUID] = {}
        self.deleted: set[UUID] = set()

    # The model ------------------------------------------------------------------------------

    def gone(self) -> set[UUID]:
        """Deleted licenses and those of deleted products: no read model may show them again."""
        return self.deleted | {i for i in self.licenses if self.product_of[i] in self.dropped_products}

    def live(self) -> list[UUID]:
        gone = self.gone()
        return [i for i in self.licenses if i not in gone]

    def aggregate(self, license_id: UUID) -> License:
        """The aggregate straight from the store (the model's view, independent of the command's tenancy)."""
        return self.ledger.repository.get(license_id)

    # Running steps -------------------------------------------------------------------------

    def run(self, step: tuple[Any, ...]) -> None:
        getattr(self, step[0])(*step[1:])

    def settle(self) -> None:
        self.runtime.projector.wait(self.ledger.position(), timeout=10)

    def expect(self, error: type[Exception] | None, command: Any, *alternatives: type[Exception]) -> Any:
        """Run `command`; it must raise `error` (or one of the tolerated alternatives), or succeed if None."""
        try:
            result = command()
        except Exception as raised:
            if isinstance(raised, alternatives) or (error is not None and isinstance(raised, error)):
                return None
            raise
        assert error is None, f"expected {error.__name__}, the command succeeded"
        return result

    def _pick(self, index: int) -> UUID | None:
        return self.licenses[index % len(self.licenses)] if self.licenses else None

    def _expiry(self, days: int | None) -> Any:
        return None if days is None else self.clock() + timedelta(days=days)

    def _license_step(self, index: int, command: Any, error_if_live: type[Exception] | None = None) -> None:
        """A vendor command on one license: not found once deleted; tolerated on a deleted product's license."""
        license_id = self._pick(index)
        if license_id is None:
            return
        if license_id in self.deleted:
            self.expect(LicenseNotFoundError, lambda: command(license_id))
        elif self.product_of[license_id] in self.dropped_products:
            self.expect(error_if_live, lambda: command(license_id), LicenseNotFoundError)
        else:
            self.expect(error_if_live, lambda: command(license_id))

    def _record_issue(self, product_id: UUID, license_ids: list[UUID]) -> None:
        self.licenses += license_ids
        self.product_of.update(dict.fromkeys(license_ids, product_id))

    def issue(self, product: int, license_type: LicenseType, max_uses: int, days: int | None) -> None:
        product_id, expires_at = self.products[product], self._expiry(days)
        invalid = max_uses < 1 or (license_type is LicenseType.LIFETIME and expires_at is not None)
        error = InvalidValueError if invalid else ProductNotFoundError if product_id in self.dropped_products else None
        receipt = self.expect(error, lambda: self.ledger.issue_license(
            self.vendor, product_id, LicenseTerms(license_type=license_type, max_uses=max_uses, expires_at=expires_at),
            self.clock()))
        if receipt is not None:
            self._record_issue(product_id, [receipt.id])

    def issue_bulk(self, product: int, count: int) -> None:
        product_id = self.products[product]
        error = ProductNotFoundError if product_id in self.dropped_products else None
        issued = self.expect(error, lambda: self.ledger.issue_licenses(
            self.vendor, product_id, count,
            LicenseTerms(license_type=LicenseType.TRIAL, max_uses=2, hwid_locked=False, metadata={"bulk": True}),
            self.clock()))
        if issued is not None:
            self._record_issue(product_id, issued[0])

    def suspend(self, index: int) -> None:
        self._license_step(index, lambda i: self.ledger.update_license(
            self.vendor, i, self.clock(), status=LicenseStatus.SUSPENDED))

    def reinstate(self, index: int) -> None:
        self._license_step(index, lambda i: self.ledger.update_license(
            self.vendor, i, self.clock(), status=LicenseStatus.ACTIVE))

    def change_limits(self, index: int, max_uses: int, hwid_locked: bool) -> None:
        license_id = self._pick(index)
        error = None
        if license_id is not None and license_id not in self.deleted:
            bound = len(self.aggregate(license_id).devices)
            error = InvalidValueError if max_uses < 1 else MaxUsesBelowActivationsError if max_uses < bound else None
        self._license_step(index, lambda i: self.ledger.update_license(
            self.vendor, i, self.clock(), max_uses=max_uses, hwid_locked=hwid_locked), error)

    def change_expiry(self, index: int, days: int | None) -> None:
        license_id, expires_at = self._pick(index), self._expiry(days)
        error = None
        if license_id is not None and license_id not in self.deleted:
            lifetime = self.aggregate(license_id).license_type is LicenseType.LIFETIME
            error = InvalidValueError if lifetime and expires_at is not None else None
        self._license_step(index, lambda i: self.ledger.update_license(
            self.vendor, i, self.clock(), expires_at=expires_at), error)

    def change_metadata(self, index: int, metadata: dict[str, int]) -> None:
        self._license_step(index, lambda i: self.ledger.update_license(
            self.vendor, i, self.clock(), metadata=metadata))

    def reset_hwid(self, index: int) -> None:
        self._license_step(index, lambda i: self.ledger.reset_hwid(self.vendor, i, self.clock()))

    def delete(self, index: int) -> None:
        license_id = self._pick(index)
        self._license_step(index, lambda i: self.ledger.delete_license(self.vendor, i, self.clock()))
        if license_id is not None:
            self.deleted.add(license_id)

    def _client_request(self, license_id: UUID, hwid: str) -> ClientRequest:
        key = self.aggregate(license_id).key
        return ClientRequest(key, self.product_of[license_id], hwid, "203.0.113.7", "property", self.clock())

    def activate(self, index: int, hwid: str) -> None:
        # The client's refusals (suspended, expired, full, mismatch, unknown) are all legitimate outcomes.
        license_id = self._pick(index)
        if license_id is not None:
            self.expect(None, lambda: self.ledger.activate_license(self._client_request(license_id, hwid)),
                        ClientRefusedError)

    def deactivate(self, index: int, hwid: str) -> None:
        license_id = self._pick(index)
        if license_id is not None:
            self.expect(None, lambda: self.ledger.deactivate_license(self._client_request(license_id, hwid)),
                        ClientRefusedError)

    def sweep(self, index: int) -> None:
        """The expiry sweeper's commands: one license's lapse, then every session the read model nominates."""
        license_id = self._pick(index)
        if license_id is not None:
            self.ledger.expire_license(license_id, self.clock())
        self.settle()
        sweep_sessions(self.ledger, self.runtime.store, self.clock())

    def advance(self, hours: int) -> None:
        self.clock.advance(hours=hours)  # type: ignore[attr-defined]

    def delete_product(self, product: int) -> None:
        product_id = self.products[product]
        error = ProductNotFoundError if product_id in self.dropped_products else None
        self.expect(error, lambda: self.ledger.delete_product(self.vendor, product_id, self.clock()))
        self.dropped_products.add(product_id)

    def change_account(self, role: Role | None, is_active: bool | None) -> None:
        """The first example's vendor is the server's first account, its only admin: it may not step down."""
        self.expect(None, lambda: self.ledger.change_account(self.vendor.id, role, is_active, self.clock()),
                    LastAdminError)
