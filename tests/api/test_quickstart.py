"""The spec's quick start through the API, on SQLite and PostgreSQL."""

from tests.conftest import auth, create_license, create_product, register


def test_quick_start_issues_a_license_the_vendor_can_read_back(client):
    token = register(client, "john@example.com")
    product = create_product(client, token, description="My application")
    license = create_license(client, token, product["id"])

    # Check the vendor sees the write at once (read-your-writes) in the spec's shape.
    listed = client.get("/api/licenses", headers=auth(token)).json()["data"]
    assert [row["license_key"] for row in listed["licenses"]] == [license["license_key"]]
    assert license["status"] == "active"
    assert product["secret_key"].startswith("sk_live_")
