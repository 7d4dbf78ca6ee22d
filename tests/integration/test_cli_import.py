"""`keyledger import FILE --owner EMAIL|ID` on SQLite and PostgreSQL: a line per record, exit 1 when one is refused."""

from __future__ import annotations

import json

from tests.api.test_import import CSV_FILE, PRODUCT_ID, SECRET
from tests.integration.test_cli_admin import keyledger  # noqa: F401 - a fixture


def test_a_csv_file_is_imported_line_by_line_and_a_second_run_finds_it_present(keyledger, runtime, clock, tmp_path):
    owner = runtime.ledger.register_account("legacy@example.com", "secret123", "Legacy", clock()).id
    path = tmp_path / "licensecm-export.csv"
    path.write_text(CSV_FILE, encoding="utf-8")

    code, out, err = keyledger("import", str(path), "--owner", str(owner))
    again = keyledger("import", str(path), "--owner", "Legacy@Example.com")

    # Check each record gets its line, the refused one says why, and the exit code tells a script.
    assert code == 1 and err == ""
    assert out.splitlines()[0] == f"line 2: product {PRODUCT_ID}: imported"
    assert out.splitlines()[3].startswith("line 5: license DEFG-HJKM-NPQR-STVW: refused: ")
    assert out.splitlines()[-1] == "3 imported, 0 already present, 1 refused"
    assert again[1].splitlines()[-1] == "0 imported, 3 already present, 1 refused"
    assert runtime.ledger.find_product_by_secret(SECRET).id.hex == PRODUCT_ID.replace("-", "")


def test_a_clean_json_file_exits_0(keyledger, runtime, clock, tmp_path):
    runtime.ledger.register_account("legacy@example.com", "secret123", "Legacy", clock())
    path = tmp_path / "export.json"
    records = [{"kind": "product", "id": PRODUCT_ID, "name": "Legacy App", "secret_key": SECRET},
               {"kind": "license", "license_key": "ABCD-EFGH-IJKL-MNOP", "product_id": PRODUCT_ID}]
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")

    code, out, _ = keyledger("import", str(path), "--owner", "legacy@example.com")

    assert (code, out.splitlines()[-1]) == (0, "2 imported, 0 already present, 0 refused")


def test_an_unknown_owner_or_unreadable_file_fails_with_one_line(keyledger, runtime, tmp_path):
    path = tmp_path / "export.json"
    path.write_text("{}", encoding="utf-8")

    assert keyledger("import", str(path), "--owner", "ghost@example.com")[2].startswith("keyledger import: ")
    missing = keyledger("import", str(tmp_path / "nope.json"), "--owner", "ghost@example.com")
    assert missing[0] == 1 and missing[2].startswith(f"keyledger import: {tmp_path / 'nope.json'}: ")
