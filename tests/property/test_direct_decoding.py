"""The direct way to validate (api/direct.py) decodes a body straight into the schema; the handler
reads it as Litestar does (JSON, then the NUL check, then `msgspec.convert`). For any body, the two
must agree: what the direct way accepts is exactly what the handler would accept, field for field, so
the two ways in answer alike (tests/api/test_direct_validation.py checks the answers themselves)."""

import json
from typing import Any

import msgspec
from hypothesis import example, given, settings
from hypothesis import strategies as st
from litestar.exceptions import SerializationException
from litestar.serialization import decode_json

from api.client_protocol import is_sealed
from api.direct import Direct, DirectRoute
from api.schemas.client import LicenseCheck
from api.text import json_has_nul

FIELDS = ["license_key", "hwid", "product_id", "nonce", "client_data", "encrypted", "extra"]
CLIENT_DATA_FIELDS = ["platform", "os_version", "vm_indicators", "debug_indicators", "extra"]

uuid_texts = st.uuids().flatmap(lambda u: st.sampled_from([str(u), u.hex, str(u).upper(), "{" + str(u) + "}",
                                                           "urn:uuid:" + str(u)]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=8), st.text(min_size=95, max_size=130), uuid_texts)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(CLIENT_DATA_FIELDS), inner, max_size=4), max_leaves=6)


def _object(pairs: list[tuple[str, Any]]) -> str:
    """A JSON object of `pairs` in order, duplicate keys kept (json.dumps of a dict could not make them)."""
    return "{" + ",".join(f"{json.dumps(key)}:{json.dumps(value)}" for key, value in pairs) + "}"


bodies = st.one_of(
    st.lists(st.tuples(st.sampled_from(FIELDS), values), max_size=8).map(_object),
    st.fixed_dictionaries({"license_key": st.text(max_size=110), "hwid": st.text(max_size=260),
                           "product_id": uuid_texts},
                          optional={"nonce": scalars, "client_data": values, "encrypted": values}).map(json.dumps),
    st.text(max_size=40),
).map(str.encode)


def handler_reading(body: bytes) -> LicenseCheck | None:
    """The plain body as the documented handler ends up with it, or None when it refuses or unseals it."""
    if json_has_nul(body):
        return None
    try:
        raw = decode_json(body or b"null")
        if is_sealed(raw):
            return None
        return msgspec.convert(raw, LicenseCheck, strict=True)
    except (msgspec.ValidationError, SerializationException):
        return None


def direct_reading(body: bytes) -> LicenseCheck | None:
    return DirectRoute(Direct(LicenseCheck, None)).decoded(body)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(bodies)
@example(b'{"license_key": "K", "hwid": "a", "hwid": "b", "product_id": "3f2a6c1e-0000-4000-8000-000000000000"}')
@example(b'{"license_key": "K", "hwid": "h", "product_id": "3f2a6c1e-0000-4000-8000-000000000000", "encrypted": true}')
@example(b'{"license_key": "K", "hwid": "h", "product_id": "3f2a6c1e-0000-4000-8000-000000000000", "client_data": {}}')
def test_the_direct_way_accepts_exactly_what_the_handler_accepts(body: bytes) -> None:
    assert direct_reading(body) == handler_reading(body)
