"""The caps of docs/limits.md: each value at its cap is taken, one past it is refused (400, in the envelope) and
writes nothing; a bulk issue at the caps answers a bounded size."""

import pytest

from api.schemas.common import METADATA_BYTES
from tests.conftest import auth, create_license, create_product

ID = "{id}"


def sized_metadata(size):
    """Metadata whose compact JSON is exactly `size` bytes."""
    return {"blob": "x" * (size - len(b'{"blob":""}'))}


def nested(levels):
    """Metadata nesting `levels` containers (objects and lists), itself the first."""
    value = "leaf"
    for level in range(levels - 1):
        value = [value] if level % 2 else {"k": value}
    return {"k": value}


def email(length):
    return "a" * 64 + "@" + "b" * (length - 69) + ".com"


# (method, path, the body around the field, field, a value at the cap, a value past it)
CAPS = [
    ("POST", "/api/auth/register", {"password": "secret123"}, "email", email(254), email(255)),
    ("POST", "/api/auth/register", {"email": "pw@example.com"}, "password", "p" * 256, "p" * 257),
    ("POST", "/api/auth/register", {"email": "short@example.com"}, "password", "p" * 8, "p" * 7),
    ("POST", "/api/auth/register", {"email": "dn@example.com", "password": "secret123"}, "display_name",
     "d" * 200, "d" * 201),
    ("POST", "/api/products", {}, "name", "n" * 200, "n" * 201),
    ("POST", "/api/products", {"name": "App"}, "description", "d" * 5000, "d" * 5001),
    ("PUT", "/api/products/{product}", {}, "description", "d" * 5000, "d" * 5001),
    ("POST", "/api/licenses", {"product_id": ID}, "username", "u" * 100, "u" * 101),
    ("POST", "/api/licenses", {"product_id": ID}, "metadata", sized_metadata(METADATA_BYTES),
     sized_metadata(METADATA_BYTES + 1)),
    ("POST", "/api/licenses", {"product_id": ID}, "metadata", {f"k{i}": i for i in range(100)},
     {f"k{i}": i for i in range(101)}),
    ("POST", "/api/licenses", {"product_id": ID}, "metadata", {"k" * 128: 1}, {"k" * 129: 1}),
    ("POST", "/api/licenses", {"product_id": ID}, "metadata", nested(8), nested(9)),
    ("POST", "/api/licenses/bulk", {"product_id": ID, "count": 2}, "metadata", sized_metadata(METADATA_BYTES),
     sized_metadata(METADATA_BYTES + 1)),
    ("PUT", "/api/licenses/{license}", {}, "metadata", sized_metadata(METADATA_BYTES),
     sized_metadata(METADATA_BYTES + 1)),
    ("PUT", "/api/licenses/{license}", {}, "username", "u" * 100, "u" * 101),
]


@pytest.fixture
def product(client, vendor_token):
    return create_product(client, vendor_token)


def send(client, token, product, license, method, path, body):
    body = {key: product["id"] if value == ID else value for key, value in body.items()}
    return client.request(method, path.format(product=product["id"], license=license["id"]), json=body,
                          headers=auth(token))


@pytest.mark.parametrize(("method", "path", "around", "field", "at_cap", "past_cap"), CAPS,
                         ids=[f"{method} {path} {field}" for method, path, _, field, *_ in CAPS])
def test_a_value_at_its_cap_is_taken_and_one_past_it_refused_writing_nothing(
        client, vendor_token, product, runtime, method, path, around, field, at_cap, past_cap):
    license = create_license(client, vendor_token, product["id"])

    before = runtime.ledger.position()
    refused = send(client, vendor_token, product, license, method, path, {**around, field: past_cap})
    assert (refused.status_code, refused.json()["success"], refused.json()["error_code"]) == (
        400, False, "VALIDATION_ERROR"), refused.text
    assert runtime.ledger.position() == before
    taken = send(client, vendor_token, product, license, method, path, {**around, field: at_cap})
    assert taken.status_code in (200, 201), taken.text


@pytest.mark.parametrize(("field", "past_cap"), [("email", "e" * 255), ("password", "p" * 257)])
def test_login_refuses_credentials_past_their_caps(client, vendor_token, field, past_cap):
    body = {"email": "vendor@example.com", "password": "secret123", field: past_cap}
    response = client.post("/api/auth/login", json=body)
    assert (response.status_code, response.json()["error_code"]) == (400, "VALIDATION_ERROR")


def test_a_bulk_issue_at_the_caps_answers_a_bounded_size(client, vendor_token, product, runtime):
    # Once, one 1 MiB request copied its metadata into 100 licenses and answered 105 MB.
    body = {"product_id": product["id"], "count": 100, "metadata": sized_metadata(METADATA_BYTES),
            "username": "u" * 100}
    answer = client.post("/api/licenses/bulk", json=body, headers=auth(vendor_token))

    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["created"] == 100
    assert 100 * METADATA_BYTES < len(answer.content) < 100 * (METADATA_BYTES + 1024)  # under 1.7 MB


def test_the_document_states_the_metadata_caps(client):
    schema = client.get("/api/schema/openapi.json").json()["components"]["schemas"]
    for name in ("LicenseCreate", "LicenseBulkCreate", "LicenseUpdate"):
        metadata = schema[name]["properties"]["metadata"]
        metadata = next((arm for arm in metadata.get("anyOf", []) if arm.get("type") == "object"), metadata)
        assert (metadata["maxProperties"], metadata["propertyNames"]["maxLength"]) == (100, 128), name
        assert "16 KiB" in metadata["description"] and "8 levels" in metadata["description"], name
