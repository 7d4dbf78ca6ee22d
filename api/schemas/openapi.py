"""What a route declares for the OpenAPI document beside its signature (api/openapi.py derives the rest).

The client routes' handlers take any JSON (a body is the request Struct or the encryption envelope) and
return prebuilt answers, so they name both here; a route may also name a refusal no property of its
handler shows (login's wrong password).
"""

from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody, Schema

from api.envelope import ErrorEnvelope
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


def answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """A route's documented 200 answer."""
    return {200: ResponseSpec(container, description=description, generate_examples=False)}


def sealed_answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """A client route's documented 200 answer, which is sealed when the request was (api/client_protocol.py)."""
    return answer(container, f"{description} An encrypted request gets this answer sealed in an "
                             "`EncryptedEnvelope` of the request envelope's shape. A product whose "
                             "`client_compatibility` is `licensecm-sdk` answers in the shape the published LicenseCM "
                             "SDKs read instead (docs/migrating-from-licensecm.md).")


def refused(descriptions: dict[int, str]) -> dict[int, ResponseSpec]:
    """Refusals a route sends that no property of its handler shows; api/openapi.py derives the rest."""
    return {status: ResponseSpec(ErrorEnvelope, description=description, generate_examples=False)
            for status, description in descriptions.items()}
