"""License commands: issue (one or in bulk), update, reset HWID, expire, delete."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.account import Actor
from domain.ids import KEY_ALPHABET, LicenseKey
from domain.license import (
    KEEP,
    Keep,
    License,
    LicenseNotFoundError,
    LicenseStatus,
    LicenseTerms,
)
from domain.errors import InvalidValueError
from domain.product import Product, ProductNotFoundError

MAX_BULK = 100


_TO_KEY_ALPHABET = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", KEY_ALPHABET)


def new_license_key() -> LicenseKey:
    """XXXX-XXXX-XXXX-XXXX from Crockford base32: 80 random bits, exactly 16 characters."""
    chars = base64.b32encode(secrets.token_bytes(10)).decode().translate(_TO_KEY_ALPHABET)
    return LicenseKey("-".join(chars[i : i + 4] for i in range(0, 16, 4)))


class LicenseCommands(CommandsBase):
    """The license part of the Ledger."""

    def issue_license(self, actor: Actor, product_id: UUID, terms: LicenseTerms, at: datetime) -> Receipt:
        """Issue one license key for a product the actor owns."""
        ids, position = self.issue_licenses(actor, product_id, 1, terms, at)
        return Receipt(ids[0], position)

    @retry_on_conflict
    def issue_licenses(self, actor: Actor, product_id: UUID, count: int, terms: LicenseTerms, at: datetime
                       ) -> tuple[list[UUID], int]:
        """Issue `count` (≤ 100) licenses in one atomic save; a key collision retries them all. The event on the
        product makes a racing delete conflict; issues for one product queue on an in-process lock, so only another
        process's write can make one retry (docs/decisions/0010-product-deletion.md)."""
        if not 1 <= count <= MAX_BULK:
            raise InvalidValueError(f"count must be between 1 and {MAX_BULK}")
        terms = terms.as_issued(at)
        with self.issue_locks(product_id):
            product = self._require_live_product(actor, product_id)
            batch_id = uuid4() if count > 1 else None
            licenses = [License.issue(new_license_key(), product_id, product.owner_id, terms, batch_id, at)
                        for _ in range(count)]
            product.record_licenses_issued(count, batch_id, at)
            return [license.id for license in licenses], self.record(product, *licenses)

    def get_license(self, actor: Actor, license_id: UUID) -> License:
        """A license the actor may change: its own, live, of a live product (else not found)."""
        license = self._load(license_id, License, LicenseNotFoundError)
        license.require_visible_to(actor.id, actor.is_admin)
        if self._load(license.product_id, Product, LicenseNotFoundError).is_deleted:
            raise LicenseNotFoundError(license_id)
        return license

    @retry_on_conflict
    def update_license(
        self,
        actor: Actor,
        license_id: UUID,
        at: datetime,
        *,
        status: LicenseStatus | None = None,
        max_uses: int | None = None,
        hwid_locked: bool | None = None,
        expires_at: datetime | None | Keep = KEEP,
        metadata: dict[str, Any] | None = None,
        username: str | None | Keep = KEEP,
    ) -> Receipt:
        """Apply a vendor's PUT: each given field becomes its own specific event."""
        license = self.get_license(actor, license_id)
        if username is not KEEP:
            license.change_username(username, at)
        if expires_at is not KEEP:
            license.change_expiry(expires_at, at)
        if max_uses is not None or hwid_locked is not None:
            license.change_limits(_given(max_uses, license.max_uses), _given(hwid_locked, license.hwid_locked), at)
        if metadata is not None:
            license.change_metadata(metadata, at)
        if status is LicenseStatus.SUSPENDED:
            license.suspend("suspended by the vendor", at)
        elif status is LicenseStatus.ACTIVE:
            license.reinstate(at)
        return Receipt(license.id, self.record(license))

    @retry_on_conflict
    def reset_hwid(self, actor: Actor, license_id: UUID, at: datetime) -> Receipt:
        """Release every device bound to the license, so it can be activated anew."""
        license = self.get_license(actor, license_id)
        license.reset_hwid(at)
        return Receipt(license.id, self.record(license))

    @retry_on_conflict
    def delete_license(self, actor: Actor, license_id: UUID, at: datetime) -> Receipt:
        license = self.get_license(actor, license_id)
        license.delete(at)
        return Receipt(license.id, self.record(license))

    @retry_on_conflict
    def expire_license(self, license_id: UUID, at: datetime) -> int | None:
        """Record that a license has lapsed (the sweeper's command); None if nothing changed."""
        license = self._load(license_id, License, LicenseNotFoundError)
        return self.record(license) if license.record_expiry(at) else None

    def _require_live_product(self, actor: Actor, product_id: UUID) -> Product:
        product = self._load(product_id, Product, ProductNotFoundError)
        product.require_visible_to(actor.id, actor.is_admin)
        return product


def _given(value: Any, current: Any) -> Any:
    return current if value is None else value
