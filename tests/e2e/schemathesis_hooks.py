"""Schemathesis hooks for tests/e2e/test_schemathesis.py: half the client requests it generates name the
seeded license, so the client routes are tested past "license not found" (schemathesis cannot learn a
license key or a product's secret from the vendor routes' answers, as it learns ids)."""

from __future__ import annotations

import json
import os
import uuid
import zlib
from typing import Any

import schemathesis

SEEDED: dict[str, str] = json.loads(os.environ.get("KEYLEDGER_SCHEMATHESIS_SEEDED", "{}"))
ACCOUNTS: dict[str, str] = json.loads(os.environ.get("KEYLEDGER_SCHEMATHESIS_ACCOUNTS", "{}"))


def _valid(field: str, value: Any) -> bool:
    """Whether a generated value is one the schema takes, so that replacing it keeps a body as valid or as
    invalid as it was generated."""
    if field == "product_id":
        try:
            return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
        except ValueError:
            return False
    return isinstance(value, str) and 1 <= len(value) <= 100


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict) or zlib.crc32(repr(body).encode()) % 2:
        return body
    return {field: SEEDED[field] if field in SEEDED and _valid(field, value) else value
            for field, value in body.items()}


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """The run's admin never changes its own account: its token is the run's, and deactivating it (once a
    promoted vendor is another admin) would end the token and leave every later case a 401. An admin changing
    itself is tested in tests/api/test_admin.py; here the change goes to the vendor's account instead."""
    if case.path_parameters and case.path_parameters.get("user_id") == ACCOUNTS.get("admin"):
        case.path_parameters["user_id"] = ACCOUNTS["vendor"]
