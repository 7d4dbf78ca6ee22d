"""Import: products and licenses brought over from another server (LicenseCM) for one owner account.

Shipped clients embed a product's id and secret key, and customers hold their license keys, so a
product keeps its id and secret and a license its key (its id is the key's uuid5), with its devices,
expiry and status. Everything is recorded as events like any other change. Each line is judged on
its own: a refused line (malformed or duplicate key, unknown product, short secret, ...) writes
nothing and says why; a line already in the store is reported as present and changes nothing, so an
import can be run again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from commands.base import CommandsBase
from commands.products import SECRET_PURPOSE
from commands.retry import retry_on_conflict
from domain.account import Account, AccountNotFoundError
from domain.errors import InvalidValueError
from domain.ids import LicenseKey, is_well_formed_license_key, normalise_license_key
from domain.license import License, LicenseTerms
from domain.product import ClientCompatibility, Product, ProductSecretIndex, SigningAlgorithm
from keys.secrets import lookup_id, seal, unseal

MIN_SECRET, MAX_SECRET = 32, 200
"""A secret's length in (ASCII) characters: the LicenseCM SDKs take its first 32 bytes as their AES key."""
MAX_HWID = 256
CHUNK = 100
"""Licenses of one product saved together, as a bulk issue saves them."""
STATUSES = ("active", "suspended", "expired")


class ProductImport(NamedTuple):
    line: int
    product_id: UUID
    name: str
    description: str
    secret_key: str
    signing_algorithm: SigningAlgorithm
    client_compatibility: ClientCompatibility


class LicenseImport(NamedTuple):
    line: int
    key: str
    product_id: UUID
    terms: LicenseTerms
    status: str
    devices: tuple[str, ...]


class LineOutcome(NamedTuple):
    """What became of one line: `imported`, `present` (already there: nothing changed) or `refused`."""

    line: int
    kind: str
    name: str
    outcome: str
    reason: str | None = None


class _Refused(Exception):
    """Raised while judging a line: it is refused, with this reason, and writes nothing."""


class ImportCommands(CommandsBase):
    """The import part of the Ledger."""

    # AccountCommands', which the Ledger mixes in beside this.
    get_account: Callable[[UUID], Account]
    _account_for_email: Callable[[str], Account | None]

    def import_owner(self, owner: str) -> Account:
        """The account named by id or email, which the imported products will belong to."""
        try:
            return self.get_account(UUID(owner))
        except ValueError:
            account = self._account_for_email(owner.strip().lower())
        if account is None:
            raise AccountNotFoundError(owner)
        return account

    def import_records(self, owner_id: UUID, products: Iterable[ProductImport], licenses: Iterable[LicenseImport],
                       at: datetime) -> tuple[list[LineOutcome], int]:
        """Import products, then licenses (which may name them); the outcome of every line, by line, and the
        position to wait for."""
        outcomes = [*self._import_products(owner_id, products, at), *self._import_licenses(owner_id, licenses, at)]
        return sorted(outcomes), self.position()

    # --- products ---

    def _import_products(self, owner_id: UUID, products: Iterable[ProductImport], at: datetime
                         ) -> Iterator[LineOutcome]:
        first_lines: dict[Any, int] = {}
        for product in products:
            name = str(product.product_id)
            try:
                for seen in (product.product_id, product.secret_key):
                    if seen in first_lines:
                        raise _Refused(f"the same {'id' if seen == product.product_id else 'secret_key'} as line "
                                       f"{first_lines[seen]}")
                    first_lines[seen] = product.line
                outcome = self._import_product(owner_id, product, at)
            except (_Refused, InvalidValueError) as refused:
                yield LineOutcome(product.line, "product", name, "refused", str(refused))
            else:
                yield LineOutcome(product.line, "product", name, outcome)

    @retry_on_conflict
    def _import_product(self, owner_id: UUID, imported: ProductImport, at: datetime) -> str:
        _require_secret_shape(imported.secret_key)
        lookup = lookup_id(self.master_key, SECRET_PURPOSE, imported.secret_key)
        existing = self._optional(imported.product_id, Product)
        if existing is not None:
            return self._present_product(existing, owner_id, imported.secret_key)
        if self._exists(imported.product_id):
            raise _Refused("the id is taken by something other than a product")
        if self._exists(lookup):
            raise _Refused("secret_key is, or was, another product's")
        sealed = seal(self.master_key, imported.secret_key, SECRET_PURPOSE)
        product = Product.imported(imported.product_id, owner_id, imported.name, imported.description, sealed,
                                   lookup, imported.signing_algorithm, at)
        product.set_client_compatibility(imported.client_compatibility, at)
        self.record(product, ProductSecretIndex(id=lookup, product_id=product.id))
        return "imported"

    def _present_product(self, product: Product, owner_id: UUID, secret: str) -> str:
        if product.is_deleted:
            raise _Refused("a deleted product has this id")
        if product.owner_id != owner_id or unseal(self.master_key, product.sealed_secret, SECRET_PURPOSE) != secret:
            raise _Refused("another product (other owner or secret_key) has this id")
        return "present"

    # --- licenses ---

    def _import_licenses(self, owner_id: UUID, licenses: Iterable[LicenseImport], at: datetime
                         ) -> Iterator[LineOutcome]:
        first_lines: dict[str, int] = {}
        ready: dict[UUID, list[tuple[LicenseImport, License]]] = {}
        for imported in licenses:
            key = normalise_license_key(imported.key)
            try:
                if key in first_lines:
                    raise _Refused(f"the same license key as line {first_lines[key]}")
                first_lines[key] = imported.line
                license = self._judged_license(owner_id, imported, at)
            except (_Refused, InvalidValueError) as refused:
                yield LineOutcome(imported.line, "license", imported.key, "refused", str(refused))
                continue
            if license is None:
                yield LineOutcome(imported.line, "license", key, "present")
            else:
                ready.setdefault(imported.product_id, []).append((imported, license))
        for product_id, judged in ready.items():
            for start in range(0, len(judged), CHUNK):
                yield from self._save_licenses(owner_id, product_id, judged[start:start + CHUNK], at)

    def _judged_license(self, owner_id: UUID, imported: LicenseImport, at: datetime) -> License | None:
        """The license to record for this line, None when it is already there; _Refused when it may not be."""
        if not is_well_formed_license_key(imported.key):
            raise _Refused("malformed license key (expected groups of 4 to 8 letters and digits, e.g. XXXX-XXXX-"
                           "XXXX-XXXX)")
        product = self._optional(imported.product_id, Product, copy=False)
        if product is None or product.is_deleted:
            raise _Refused("unknown product")
        if product.owner_id != owner_id:
            raise _Refused("the product belongs to another account")
        key = LicenseKey(normalise_license_key(imported.key))
        existing = self._optional(License.create_id(key), License, copy=False)
        if existing is not None:
            if existing.is_deleted or existing.product_id != imported.product_id:
                raise _Refused("the key is another product's, or was deleted")
            return None
        if self._exists(License.create_id(key)):
            raise _Refused("the key's id is taken by something other than a license")
        return _license(owner_id, key, imported, at)

    def _save_licenses(self, owner_id: UUID, product_id: UUID, judged: list[tuple[LicenseImport, License]],
                       at: datetime) -> Iterator[LineOutcome]:
        """Save a chunk with one event on its product; if the store refuses it (a racing import or change),
        line by line, each judged again."""
        try:
            with self.issue_locks(product_id):
                product: Product = self.repository.get(product_id)
                product.record_licenses_issued(len(judged), None, at)
                self.record(product, *(license for _, license in judged))
        except RecordConflictError:
            yield from (self._import_license(owner_id, imported, at) for imported, _ in judged)
            return
        yield from (LineOutcome(imported.line, "license", license.key, "imported") for imported, license in judged)

    @retry_on_conflict
    def _import_license(self, owner_id: UUID, imported: LicenseImport, at: datetime) -> LineOutcome:
        try:
            license = self._judged_license(owner_id, imported, at)
        except (_Refused, InvalidValueError) as refused:
            return LineOutcome(imported.line, "license", imported.key, "refused", str(refused))
        if license is None:
            return LineOutcome(imported.line, "license", normalise_license_key(imported.key), "present")
        product: Product = self.repository.get(imported.product_id)
        product.record_licenses_issued(1, None, at)
        self.record(product, license)
        return LineOutcome(imported.line, "license", license.key, "imported")


def _require_secret_shape(secret: str) -> None:
    if not (MIN_SECRET <= len(secret) <= MAX_SECRET and secret.isascii() and secret.isprintable()
            and not any(character.isspace() for character in secret)):
        raise _Refused(f"secret_key must be {MIN_SECRET} to {MAX_SECRET} printable ASCII characters, no spaces")


def _license(owner_id: UUID, key: LicenseKey, imported: LicenseImport, at: datetime) -> License:
    """The license as it stands on the other server: terms, bound devices and status."""
    terms = imported.terms.as_issued(at)
    devices = imported.devices
    if len(set(devices)) != len(devices) or not all(0 < len(device) <= MAX_HWID for device in devices):
        raise _Refused(f"devices must be distinct HWIDs of 1 to {MAX_HWID} characters")
    if len(devices) > terms.max_uses:
        raise _Refused(f"{len(devices)} devices are more than max_uses ({terms.max_uses})")
    if imported.status not in STATUSES:
        raise _Refused(f"status must be one of {', '.join(STATUSES)}")
    if imported.status == "expired" and (terms.expires_at is None or terms.expires_at > at):
        raise _Refused("an expired license needs an expires_at in the past")
    license = License.issue(key, imported.product_id, owner_id, terms, None, at)
    for device in devices:
        license.activate_device(device, at)
    if imported.status == "suspended":
        license.suspend("suspended when imported", at)
    return license
