"""The OpenAPI document at /api/schema, completed from the route handlers in one place.

Litestar documents each route's path, parameters and default answer from its handler's signature. What a
signature does not say is derived here from properties every handler has, so a new route is documented correctly
by construction: bodies and answers as msgspec's own JSON Schema of their Structs (msgspec decodes the one and
encodes the other, so the schema says exactly what the server does); every refusal a route may send, in the error
envelope, from what its handler asks for (`refusals`); the bearer token where an account is needed, and
`Idempotency-Key` on vendor writes. A handler's own `responses=` win over the derived ones (login's 401 and 403).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import UnionType
from typing import Any, get_args, get_origin

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

from api.envelope import ErrorEnvelope
from api.errors import CLIENT_STATUS, LOCKENCE_ANSWERS, lockence_error_response
from api.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from api.idempotency import MAX_KEY as MAX_IDEMPOTENCY_KEY
from api.idempotency import WRITES, takes_idempotency_key
from api.ratelimit import is_client_path
from api.requests import MAX_BODY_BYTES, body_struct
from api.schemas.client import EncryptedEnvelope
from api.schemas.openapi import COMPONENT, ClientOperation

SIGNED_IN = frozenset({"account", "actor", "admin"})  # the dependencies that read the bearer token (api/deps.py)
BEARER = "BearerToken"

REFUSALS = {
    400: "Refused input (VALIDATION_ERROR): the body, a parameter or a header breaks this operation's schema "
         "or a cap of docs/limits.md, or text in the body holds NUL (U+0000). Nothing was written.",
    401: "No valid `Authorization: Bearer` token of an active account (UNAUTHORIZED).",
    403: "The account is not an admin (FORBIDDEN).",
    404: "An id names nothing this account may see (LICENSE_NOT_FOUND, PRODUCT_NOT_FOUND, USER_NOT_FOUND, "
         "NOTIFICATION_NOT_FOUND): another vendor's resources answer as missing ones do.",
    409: "The change conflicts with the current state (EMAIL_ALREADY_REGISTERED, MAX_USES_BELOW_ACTIVATIONS, "
         "CONFLICT), or lost the race for a resource too often (CONFLICT: retry).",
    413: f"The body is over {MAX_BODY_BYTES // 1024} KiB (PAYLOAD_TOO_LARGE). Nothing was written.",
    415: "The body was not sent as `Content-Type: application/json` (UNSUPPORTED_MEDIA_TYPE).",
    429: "RATE_LIMIT_EXCEEDED: more requests in the window than the account may make (before login: the "
         "address), `KEYLEDGER_RATE_LIMIT_API` a minute (100 by default). Nothing was done; retry after "
         "`Retry-After` seconds.",
    503: "READ_MODELS_BEHIND: the change was recorded but the read models have not caught up with it; read it "
         "again later and do not repeat it. SERVICE_UNAVAILABLE: the database cannot be reached; nothing was "
         "written. Retry after `Retry-After` seconds.",
}
CLIENT_RATE_LIMITED = (
    "RATE_LIMIT_EXCEEDED: more calls in the window than this client (product, license key and device) may make, "
    "`KEYLEDGER_RATE_LIMIT_VALIDATION` a minute (10 by default), or than its address may make for every key "
    "(`KEYLEDGER_RATE_LIMIT_CLIENT_IP`, 600). Nothing was done; retry after `Retry-After` seconds.")
IDEMPOTENCY_REFUSALS = {
    409: "IDEMPOTENCY_KEY_IN_USE: a request with this `Idempotency-Key` is still being answered.",
    422: "IDEMPOTENCY_KEY_REUSED: this `Idempotency-Key` came with a different request before.",
}
RETRY_AFTER = {"Retry-After": OpenAPIHeader(schema=Schema(type=OpenAPIType.INTEGER, minimum=0), required=True,
                                            description="Seconds to wait before trying again.")}
RATE_LIMIT_HEADERS = {
    name: OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING if name == "RateLimit-Policy" else OpenAPIType.INTEGER),
                        description=description)
    for name, description in (
        ("RateLimit-Limit", "Requests the tightest limit counted against allows in its window."),
        ("RateLimit-Remaining", "Requests left in that window."),
        ("RateLimit-Reset", "Seconds until that window ends."),
        ("RateLimit-Policy", "The limit and its window in seconds, as `100;w=60`."))}
"""Sent on every answer while a limit is on (draft-ietf-httpapi-ratelimit-headers); documented on the 429."""
HEADERS = {503: RETRY_AFTER, 429: RETRY_AFTER | RATE_LIMIT_HEADERS}
IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key", param_in="header", required=False,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_IDEMPOTENCY_KEY,
                  pattern=IDEMPOTENCY_KEY_PATTERN),
    description="Makes the write safe to retry: a retry with the same key gets the first answer and writes "
                "nothing new.")


@dataclass(frozen=True)
class Route:
    """One documented operation, with the handler that answers it."""

    path: str
    method: str
    handler: HTTPRouteHandler
    operation: Operation

    @property
    def asks(self) -> set[str]:
        return set(self.handler.parsed_fn_signature.parameters)

    @property
    def body(self) -> Any:
        """The Struct the body is decoded as (None without a body, or when it is a client request)."""
        return body_struct(self.handler)

    @property
    def names_ids(self) -> bool:
        """An id in the path, the query (`product_id=`) or a body naming a resource: it may name nothing one can
        see."""
        fields = msgspec.inspect.type_info(self.body).fields if self.body is not None else ()  # type: ignore[union-attr]
        return "{" in self.path or any(isinstance(kind, msgspec.inspect.UUIDType)
                                       for field in fields for kind in getattr(field.type, "types", (field.type,))) \
            or any(_is_uuid(parameter.schema) for parameter in self.operation.parameters or ()
                   if isinstance(parameter, Parameter) and parameter.param_in == "query")

    @property
    def client(self) -> bool:
        return issubclass(self.handler.operation_class, ClientOperation)

    @property
    def lockence(self) -> bool:
        return lockence_error_response in self.handler.resolve_exception_handlers().values()


def _is_uuid(schema: Any) -> bool:
    """Whether a parameter's schema is a UUID, or a UUID or null."""
    if not isinstance(schema, Schema):
        return False
    return schema.format == "uuid" or any(_is_uuid(member) for member in schema.one_of or ())


def refusals(route: Route) -> dict[int, str]:
    """Each status `route` may refuse with, and why."""
    found = {status: REFUSALS[status] for status in (400, 503)}
    if SIGNED_IN & route.asks:
        found[401] = REFUSALS[401]
    if "admin" in route.asks:
        found[403] = REFUSALS[403]
    if route.names_ids:
        found[404] = REFUSALS[404]
    if route.method in WRITES:
        found[409] = REFUSALS[409]
    if "data" in route.asks:
        found |= {413: REFUSALS[413], 415: REFUSALS[415]}
    if takes_idempotency_key(route.method, route.path):
        found[409] += " " + IDEMPOTENCY_REFUSALS[409]
        found[422] = IDEMPOTENCY_REFUSALS[422]
    if not is_client_path(route.path):
        found[429] = REFUSALS[429]
    if route.client:
        found |= _coded(CLIENT_STATUS)
    if route.lockence:
        found |= _coded({code: status for code, (status, _) in LOCKENCE_ANSWERS.items()})
    if route.client or route.lockence:
        found[429] = CLIENT_RATE_LIMITED
    return dict(sorted(found.items()))


def _coded(statuses: dict[str, int]) -> dict[int, str]:
    """A refusal per status, naming its `error_code`s."""
    codes: dict[int, list[str]] = {}
    for code, status in statuses.items():
        codes.setdefault(status, []).append(code)
    return {status: f"Refused: {', '.join(names)}." for status, names in codes.items()}


class DocumentedOpenAPI(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, completing the document as it builds it: when first asked for, since
    building it costs about as much as making the app, and most apps (a test's, a worker's) never serve it."""

    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        openapi = super()._build_openapi()
        complete(self.app, openapi)
        return openapi


def document(app: Litestar) -> None:
    """Have `app` complete its OpenAPI document (see the module docstring) when the document is built. Litestar makes
    its own plugin, keyed by its exact class, so the instance is given our subclass's behaviour in place (the
    subclass adds no state), and every route that serves the document gets it."""
    app.plugins.get(OpenAPIPlugin).__class__ = DocumentedOpenAPI


def complete(app: Litestar, document: OpenAPI) -> None:
    """Complete the document Litestar made of `app`'s routes (see the module docstring)."""
    routes = list(_routes(app, document))
    kinds = _kinds(routes)
    schemas, components = msgspec.json.schema_components(kinds, ref_template=COMPONENT)
    names = {name: _tidy(name, schema) for name, schema in components.items()}
    if len(set(names.values())) < len(names):
        raise ValueError(f"two components would share a name: {sorted(names.values())}")
    schema_of = {kind: _schema(_renamed(schema, names)) for kind, schema in zip(kinds, schemas, strict=True)}
    schema_of |= {kind: Schema(one_of=[schema_of[member] for member in get_args(kind)])
                  for route in routes for kind in _answers(route).values() if _is_union(kind)}
    for route in routes:
        _describe(route, schema_of)
    document.components.schemas = dict(sorted((names[name], _renamed(schema, names))
                                              for name, schema in components.items()))
    for kind in kinds:  # a rule across a Struct's fields, which msgspec cannot derive (LicenseCreate's)
        if extra := getattr(kind, "json_schema_extra", None):
            name = schema_of[kind].ref.rpartition("/")[2]
            document.components.schemas[name] = {**document.components.schemas[name], **extra}
    document.components.security_schemes = {BEARER: SecurityScheme(type="http", scheme="bearer",
                                                                   bearer_format="JWT")}


def _routes(app: Litestar, document: OpenAPI) -> Iterator[Route]:
    paths = document.paths or {}
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format in paths:
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    if (operation := getattr(paths[route.path_format], method.lower(), None)) is not None:
                        yield Route(route.path_format, method, handler, operation)


def _answers(route: Route) -> dict[int, Any]:
    """The types a route answers with, by status: those it declares, and the Struct its handler returns."""
    kinds = {status: spec.data_container for status, spec in (route.handler.responses or {}).items()}
    returned = route.handler.parsed_fn_signature.return_type.annotation
    if _is_struct(returned):
        kinds[route.handler.status_code] = returned
    return kinds


def _kinds(routes: list[Route]) -> list[Any]:
    kinds = {ErrorEnvelope, EncryptedEnvelope}
    for route in routes:
        kinds |= {member for kind in _answers(route).values() for member in _members(kind)}
        kinds |= {route.body} - {None}
        if route.client:
            kinds.add(route.handler.operation_class.request)
    return sorted(kinds, key=repr)


def _describe(route: Route, schema_of: dict[Any, Any]) -> None:
    operation = route.operation
    if route.body is not None:
        operation.request_body.content["application/json"].schema = schema_of[route.body]  # type: ignore[union-attr]
    responses = operation.responses or {}
    for status, kind in _answers(route).items():
        responses[str(status)].content = {"application/json": OpenAPIMediaType(schema=schema_of[kind])}
    for status, description in refusals(route).items():
        if status not in (route.handler.responses or {}):  # Litestar's own 400 shows a shape never sent
            responses[str(status)] = OpenAPIResponse(
                description=description, headers=HEADERS.get(status),
                content={"application/json": OpenAPIMediaType(schema=schema_of[ErrorEnvelope])})
    operation.responses = dict(sorted(responses.items()))
    if SIGNED_IN & route.asks:
        operation.security = [{BEARER: []}]
    if takes_idempotency_key(route.method, route.path):
        operation.parameters = [*(operation.parameters or []), IDEMPOTENCY_KEY]


def _is_union(kind: Any) -> bool:
    return isinstance(kind, UnionType)


def _members(kind: Any) -> tuple[Any, ...]:
    """The types a union answer may be (msgspec documents only tagged unions of Structs), or the type."""
    return get_args(kind) if _is_union(kind) else (kind,)


def _is_struct(annotation: Any) -> bool:
    kind = get_origin(annotation) or annotation
    return isinstance(kind, type) and issubclass(kind, msgspec.Struct)


def _tidy(name: str, schema: dict[str, Any]) -> str:
    """A generic Struct's component named `Ok_list_Product` rather than after the module path msgspec spells
    (`Ok_list_api.schemas.products.Product__`)."""
    title = schema.get("title", "")
    return re.sub(r"\W+", "_", re.sub(r"\w+\.", "", title)).strip("_") if "[" in title else name


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """`value` (JSON Schema) with its references to components following their new names."""
    if isinstance(value, dict):
        if isinstance(ref := value.get("$ref"), str):
            return {**value, "$ref": COMPONENT.format(name=names[ref.rpartition("/")[2]])}
        return {key: _renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


def _schema(schema: dict[str, Any]) -> Any:
    return Reference(schema["$ref"]) if set(schema) == {"$ref"} else schema
