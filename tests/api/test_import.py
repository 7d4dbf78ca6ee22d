"""`POST /api/admin/import`: a vendor's LicenseCM products and licenses, from JSON or CSV, admin only; shipped
clients keep working the moment the import is done."""

import json

import pytest

from tests.api.test_licensecm_sdks import emulated
from tests.conftest import auth, register

PRODUCT_ID = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"
SECRET = "sk_live_" + "5e" * 24

JSON_FILE = """[
  {"kind": "product", "id": "%s", "name": "Legacy App",
   "secret_key": "%s"},
  {"kind": "license", "license_key": "ABCD-EFGH-IJKL-MNOP", "product_id": "%s",
   "max_uses": 2, "devices": ["pc-1"], "expires_at": "2027-01-01T00:00:00Z"},
  {"kind": "license", "license_key": "not a key", "product_id": "%s"},
  {"kind": "license", "license_key": "BCDE-FGHJ-KMNP-QRST", "product_id": "%s", "max_uses": "two"}
]""" % (PRODUCT_ID, SECRET, PRODUCT_ID, PRODUCT_ID, PRODUCT_ID)

CSV_FILE = f"""kind,id,name,secret_key,client_compatibility,license_key,product_id,type,max_uses,hwid_locked,expires_at,status,devices,metadata
product,{PRODUCT_ID},Legacy App,{SECRET},licensecm-sdk,,,,,,,,,
license,,,,,ABCD-EFGH-IJKL-MNOP,{PRODUCT_ID},subscription,3,true,2027-01-01T00:00:00Z,active,pc-1;pc-2,"{{""plan"": ""pro""}}"
license,,,,,CDEF-GHJK-MNPQ-RSTV,{PRODUCT_ID},lifetime,1,false,,suspended,,
license,,,,,DEFG-HJKM-NPQR-STVW,{PRODUCT_ID},monthly,1,true,,,,
"""


@pytest.fixture
def owner_token(client, admin_token):
    return register(client, "legacy@example.com")


def run_import(client, token, content, file_format="json", owner="legacy@example.com"):
    return client.post("/api/admin/import", json={"owner": owner, "format": file_format, "content": content},
                       headers=auth(token))


def test_an_admin_imports_json_and_each_line_is_reported_by_where_it_starts(client, admin_token, owner_token):
    report = run_import(client, admin_token, JSON_FILE).json()["data"]

    assert (report["imported"], report["present"], report["refused"]) == (2, 0, 2)
    assert [(line["line"], line["kind"], line["outcome"]) for line in report["lines"]] == [
        (2, "product", "imported"), (4, "license", "imported"), (6, "license", "refused"), (7, "license", "refused")]
    assert "malformed" in report["lines"][2]["reason"] and "max_uses" in report["lines"][3]["reason"]
    # Check the owner now sees the product, with the secret its clients embed, answering them as LicenseCM did.
    product = client.get(f"/api/products/{PRODUCT_ID}", headers=auth(owner_token)).json()["data"]
    assert (product["secret_key"], product["client_compatibility"]) == (SECRET, "licensecm-sdk")
    licenses = client.get("/api/licenses", headers=auth(owner_token)).json()["data"]["licenses"]
    assert [(item["license_key"], item["devices"]) for item in licenses] == [("ABCD-EFGH-IJKL-MNOP", ["pc-1"])]


def test_csv_imports_the_same_records_and_a_second_run_reports_them_present(client, admin_token, owner_token):
    first = run_import(client, admin_token, CSV_FILE, "csv").json()["data"]
    second = run_import(client, admin_token, CSV_FILE, "csv").json()["data"]

    assert [(line["line"], line["outcome"]) for line in first["lines"]] == [
        (2, "imported"), (3, "imported"), (4, "imported"), (5, "refused")]
    assert "type" in first["lines"][3]["reason"]
    assert [(line["line"], line["outcome"]) for line in second["lines"]] == [
        (2, "present"), (3, "present"), (4, "present"), (5, "refused")]
    licenses = client.get("/api/licenses", headers=auth(owner_token)).json()["data"]["licenses"]
    seen = {item["license_key"]: (item["status"], item["devices"], item["metadata"]) for item in licenses}
    assert seen == {"ABCD-EFGH-IJKL-MNOP": ("active", ["pc-1", "pc-2"], {"plan": "pro"}),
                    "CDEF-GHJK-MNPQ-RSTV": ("suspended", [], {})}


def test_only_an_admin_may_import(client, admin_token, owner_token):
    refused = run_import(client, owner_token, JSON_FILE)
    assert (refused.status_code, refused.json()["error_code"]) == (403, "FORBIDDEN")
    assert client.get("/api/products", headers=auth(owner_token)).json()["data"] == []


@pytest.mark.parametrize(("content", "file_format"), [
    ('{"kind": "product"}', "json"), ("[1, 2", "json"), ("", "json"), ('[{"kind": "product"}] trailing', "json"),
    ("[" * 100_000 + "]" * 100_000, "json"), ("id,name\n1,x\n", "csv"), ("", "csv"),
    ("kind,name\nproduct," + "x" * 200_000 + "\n", "csv"),
])
def test_a_file_that_cannot_be_read_is_a_400_that_imports_nothing(client, admin_token, owner_token, content,
                                                                  file_format):
    response = run_import(client, admin_token, content, file_format)
    assert (response.status_code, response.json()["error_code"]) == (400, "VALIDATION_ERROR")


def test_an_unknown_owner_is_a_404(client, admin_token):
    response = run_import(client, admin_token, JSON_FILE, owner="ghost@example.com")
    assert response.status_code == 404 and response.json()["error_code"] == "USER_NOT_FOUND"


@pytest.mark.parametrize("name", ["node", "go", "rust"])
def test_shipped_clients_keep_working_the_moment_the_import_is_done(client, admin_token, owner_token, clock, name):
    run_import(client, admin_token, JSON_FILE)
    product = {"id": PRODUCT_ID, "secret_key": SECRET}
    sdk = emulated(client, clock, name, product, encrypted=True)
    sdk.hwid = "pc-1"  # the device LicenseCM had bound

    assert sdk.validate("ABCD-EFGH-IJKL-MNOP")["valid"] is True
    assert json.loads(json.dumps(sdk.sent[-1]))["product_id"] == PRODUCT_ID
