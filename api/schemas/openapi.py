"""What the OpenAPI document says of the client routes, which their signatures cannot tell Litestar.

Their handlers take any JSON (a body is the request Struct or the encryption envelope) and return
prebuilt answers, so Litestar would document `{}` for both.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody, Schema

from api.schemas.client import EncryptedEnvelope

COMPONENT = "#/components/schemas/{name}"


@dataclass
class ClientOperation(Operation):
    """A client route's operation: its body is `request`, plain or sealed in the envelope."""

    request: ClassVar[type[msgspec.Struct]]

    def __post_init__(self) -> None:
        bodies = [Reference(COMPONENT.format(name=kind.__name__)) for kind in (self.request, EncryptedEnvelope)]
        self.request_body = RequestBody(required=True, content={
            "application/json": OpenAPIMediaType(schema=Schema(one_of=bodies))})


def plain_or_sealed(request: type[msgspec.Struct]) -> type[ClientOperation]:
    return type(f"{request.__name__}Operation", (ClientOperation,), {"request": request})


def body_schemas(operations: Iterable[type[ClientOperation]]) -> dict[str, Any]:
    """The component schemas the operations' bodies name, as msgspec decodes the bodies. Litestar lists
    only the schemas that route signatures name, so these are added to its document (api/app.py)."""
    kinds = {operation.request for operation in operations} | {EncryptedEnvelope}
    return msgspec.json.schema_components(kinds, ref_template=COMPONENT)[1]


def answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """A route's documented 200 answer."""
    return {200: ResponseSpec(container, description=description, generate_examples=False)}


def sealed_answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """A client route's documented 200 answer, which is sealed when the request was (api/client_protocol.py)."""
    return answer(container, f"{description} An encrypted request gets this answer sealed in an "
                             "`EncryptedEnvelope` of the request envelope's shape. A product whose "
                             "`client_compatibility` is `licensecm-sdk` answers in the shape the published LicenseCM "
                             "SDKs read instead (docs/migrating-from-licensecm.md).")
