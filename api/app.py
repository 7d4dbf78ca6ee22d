"""The Litestar application: routes under /api, the spec's envelopes, OpenAPI at /api/schema."""

from collections.abc import Iterator

from litestar import Litestar, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.routes import HTTPRoute

from api.controllers.admin import AdminController
from api.controllers.auth import AuthController
from api.controllers.client import ClientController
from api.controllers.imports import ImportController
from api.controllers.licenses import LicenseController
from api.controllers.lockence import LockenceController
from api.controllers.notifications import NotificationController
from api.controllers.products import ProductController
from api.controllers.stats import StatsController
from api.deps import DEPENDENCIES
from api.direct import DirectApp
from api.envelope import ErrorEnvelope
from api.errors import EXCEPTION_HANDLERS
from api.idempotency import IdempotencyMiddleware
from api.requests import LedgerRequest
from api.schemas.openapi import ClientOperation, body_schemas
from keyledger.wiring import Runtime

MAX_BODY_BYTES = 1024 * 1024

CONTROLLERS = [AuthController, ProductController, LicenseController, StatsController, NotificationController,
               AdminController, ImportController, ClientController, LockenceController]


def create_app(runtime: Runtime) -> Litestar:
    """Build the app around a runtime; closing the app closes the runtime."""
    api = Router(path="/api", route_handlers=CONTROLLERS)
    app = DirectApp(
        route_handlers=[api],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        request_class=LedgerRequest,
        middleware=[IdempotencyMiddleware()],
        openapi_config=OpenAPIConfig(title="KeyLedger", version="0.1.0", path="/api/schema"),
        on_shutdown=[runtime.close],
        debug=False,
    )
    app.state.runtime = runtime
    _document_error_envelope(app)
    _document_client_bodies(app)
    return app


BAD_REQUEST = ResponseSpec(ErrorEnvelope, generate_examples=False,
                           description="Refused input, in the error envelope (`error_code` VALIDATION_ERROR)")


def _handlers(app: Litestar) -> Iterator[HTTPRouteHandler]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            yield from route.route_handlers


def _document_error_envelope(app: Litestar) -> None:
    """Show the 400 every route may answer in the envelope it is sent in (api/errors.py), instead of the
    exception shape Litestar documents by default, which no route ever sends."""
    for handler in _handlers(app):
        handler.responses = {400: BAD_REQUEST, **(handler.responses or {})}


def _document_client_bodies(app: Litestar) -> None:
    """Add the schemas the client routes' bodies name (api/schemas/openapi.py) to the document, built here
    once: Litestar keeps only the schemas of its own making, whatever OpenAPIConfig's components hold."""
    operations = [handler.operation_class for handler in _handlers(app)
                  if issubclass(handler.operation_class, ClientOperation)]
    components = app.openapi_schema.components
    components.schemas = dict(sorted((body_schemas(operations) | components.schemas).items()))
