"""History and state-at-a-time answers: a license or product as it was, and a license's events in order."""

import msgspec

from api.schemas.licenses import License
from api.schemas.products import Product


class LicenseState(License, forbid_unknown_fields=True, kw_only=True):
    """`GET /licenses/{id}` as it answered at a past time, and the event-store position it reflects."""

    position: int
    at: str


class ProductState(Product, forbid_unknown_fields=True, kw_only=True):
    """`GET /products/{id}` as it answered at a past time (never with the secret key), and the position it
    reflects."""

    position: int
    at: str
