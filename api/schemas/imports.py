"""The import file (`keyledger import FILE`, `POST /api/admin/import`): products and licenses, one per line.

Two formats hold the same records (docs/migrating-from-licensecm.md, "Importing"): a JSON array of objects, each
with `kind` ("product" or "license") and that kind's fields, or CSV with a header row (an empty cell is an absent
field, `devices` lists HWIDs separated by `;`, `metadata` is a JSON object). Every record is numbered by the line
it starts on, and one that does not fit its kind is refused with that number; the others go to the ledger.
"""

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from api.schemas.common import Description, Metadata, Name
from api.schemas.licenses import Expiry, MaxUses, Username
from commands.imports import LicenseImport, LineOutcome, ProductImport
from domain.errors import InvalidValueError
from domain.license import LicenseTerms, LicenseType
from domain.product import ClientCompatibility, SigningAlgorithm
from api.text import has_nul

Format = Literal["json", "csv"]


class ProductRecord(msgspec.Struct, tag="product", tag_field="kind", forbid_unknown_fields=True):
    """A product under the id and secret key its shipped clients embed; it answers them as LicenseCM did."""

    id: UUID
    name: Name
    secret_key: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    description: Description = ""
    signing_algorithm: SigningAlgorithm = SigningAlgorithm.RSA
    client_compatibility: ClientCompatibility = ClientCompatibility.LICENSECM_SDK


class LicenseRecord(msgspec.Struct, tag="license", tag_field="kind", forbid_unknown_fields=True):
    """A license under its key, with its terms, the devices it is bound to and its status."""

    license_key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    product_id: UUID
    type: LicenseType = LicenseType.SUBSCRIPTION
    max_uses: MaxUses = 1
    hwid_locked: bool = True
    expires_at: Expiry | None = None
    status: Literal["active", "suspended", "expired"] = "active"
    devices: list[Annotated[str, msgspec.Meta(min_length=1, max_length=256)]] = msgspec.field(default_factory=list)
    metadata: Metadata = msgspec.field(default_factory=dict)
    username: Username | None = None

    def terms(self) -> LicenseTerms:
        return LicenseTerms(license_type=self.type, max_uses=self.max_uses, hwid_locked=self.hwid_locked,
                            expires_at=self.expires_at, metadata=self.metadata, username=self.username)


Record = ProductRecord | LicenseRecord


class ImportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """`POST /api/admin/import`: the file's text, its format, and the account its products will belong to."""

    owner: Annotated[str, msgspec.Meta(min_length=1, max_length=254, description="the owner's email or id")]
    content: str
    format: Format = "json"


class ImportFile(msgspec.Struct):
    products: list[ProductImport]
    licenses: list[LicenseImport]
    refused: list[LineOutcome]


class ImportFileError(InvalidValueError):
    """Raised when the file as a whole cannot be read (not a JSON array, no CSV header): nothing is imported."""


def read_import(text: str, file_format: Format) -> ImportFile:
    """Every record of the file, numbered by its first line, ready for the ledger or refused."""
    found = ImportFile([], [], [])
    for line, raw in (_csv_records(text) if file_format == "csv" else _json_records(text)):
        try:
            record = msgspec.convert(raw, Record, strict=file_format == "json")  # type: ignore[arg-type]
            if has_nul(raw):
                raise msgspec.ValidationError("Text may not contain the NUL character (\\u0000)")
        except msgspec.ValidationError as error:
            kind = raw.get("kind") if isinstance(raw, dict) else None
            found.refused.append(LineOutcome(line, kind if kind in ("product", "license") else "record",
                                             _name_of(raw), "refused", str(error)))
            continue
        if isinstance(record, ProductRecord):
            found.products.append(ProductImport(line, record.id, record.name, record.description, record.secret_key,
                                                record.signing_algorithm, record.client_compatibility))
        else:
            found.licenses.append(LicenseImport(line, record.license_key, record.product_id, record.terms(),
                                                record.status, tuple(record.devices)))
    return found


def _name_of(raw: Any) -> str:
    if isinstance(raw, dict):
        return str(raw.get("license_key") or raw.get("id") or "")[:100]
    return ""


def _json_records(text: str) -> list[tuple[int, Any]]:
    """The array's elements with the line each starts on (json's raw_decode says where each ends)."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if not text.startswith("[", position):
        raise ImportFileError("A JSON import is an array of records")
    records, position = [], _skip_space(text, position + 1)
    while not text.startswith("]", position):
        try:
            record, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise ImportFileError(f"Line {error.lineno}: {error.msg}") from None
        except RecursionError:
            raise ImportFileError(f"Line {text.count(chr(10), 0, position) + 1}: nested too deeply") from None
        records.append((text.count("\n", 0, position) + 1, record))
        position = _skip_space(text, end)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif not text.startswith("]", position):
            raise ImportFileError(f"Line {text.count(chr(10), 0, position) + 1}: expected , or ]")
    if text[_skip_space(text, position + 1):]:
        raise ImportFileError("Text after the array of records")
    return records


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _csv_records(text: str) -> list[tuple[int, Any]]:
    """Each row as a record of its non-empty cells, with the line it starts on (the header is line 1)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    records, line = [], 1
    try:
        header = [name.strip() for name in next(reader, [])]
        if "kind" not in header:
            raise ImportFileError("A CSV import starts with a header row naming its columns, `kind` among them")
        line = reader.line_num + 1
        for row in reader:
            if any(cell.strip() for cell in row):
                records.append((line, _csv_record(dict(zip(header, row, strict=False)))))
            line = reader.line_num + 1
    except csv.Error as error:  # a NUL character, a field past the csv module's limit
        raise ImportFileError(f"Line {line}: {error}") from None
    return records


def _csv_record(cells: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {name: value.strip() for name, value in cells.items() if value.strip()}
    if "devices" in record:
        record["devices"] = [device.strip() for device in record["devices"].split(";") if device.strip()]
    if "metadata" in record:
        try:
            record["metadata"] = json.loads(record["metadata"])
        except json.JSONDecodeError:
            pass  # left a string: refused as not an object
    if "expires_at" in record:
        record["expires_at"] = _instant(record["expires_at"])
    return record


def _instant(text: str) -> Any:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text  # refused by the schema, with its own words


class ImportedLine(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One line's outcome: `imported`, `present` (already there: nothing changed) or `refused` (and why)."""

    line: int
    kind: str
    name: str
    outcome: Literal["imported", "present", "refused"]
    reason: str | None = None


class ImportReport(msgspec.Struct, forbid_unknown_fields=True):
    """How many lines were imported, were present already or were refused, and each line's outcome."""

    imported: int
    present: int
    refused: int
    lines: list[ImportedLine]


def import_report(outcomes: list[LineOutcome]) -> ImportReport:
    lines = [ImportedLine(line.line, line.kind, line.name, line.outcome, line.reason)  # type: ignore[arg-type]
             for line in sorted(outcomes)]
    return ImportReport(*(sum(line.outcome == outcome for line in lines) for outcome in ("imported", "present",
                                                                                          "refused")), lines)
