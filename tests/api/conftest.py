"""Fixtures the client-API tests share: a vendor's product and one license of it."""

import pytest

from tests.conftest import create_license, create_product


@pytest.fixture
def product(client, vendor_token):
    return create_product(client, vendor_token)


@pytest.fixture
def license(client, vendor_token, product):
    return create_license(client, vendor_token, product["id"])
