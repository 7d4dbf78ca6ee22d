"""The Litestar application: routes under /api, the spec's envelopes, OpenAPI at /api/schema."""

from collections.abc import Sequence
from typing import Any

from litestar import Controller, Litestar
from litestar.openapi import OpenAPIConfig
from litestar.routes import HTTPRoute
from litestar.types import Middleware

from api.controllers.admin import AdminController
from api.controllers.audit import AuditController
from api.controllers.auth import AuthController
from api.controllers.history import LicenseHistoryController, LicenseStateController, ProductStateController
from api.controllers.client import ClientController
from api.controllers.events import EventStreamController
from api.controllers.imports import ImportController
from api.controllers.licenses import LicenseController
from api.controllers.lockence import LockenceController
from api.controllers.notifications import NotificationController
from api.controllers.products import ProductController
from api.controllers.security import SecurityController
from api.controllers.stats import StatsController
from api.controllers.webhooks import WebhookController
from api.actors import RequestActor, with_request_id
from api.auth import account_id_of
from api.deps import DEPENDENCIES
from api.direct import DirectApp
from api.errors import EXCEPTION_HANDLERS
from api.idempotency import IDEMPOTENT_PATHS, IdempotencyMiddleware
from api.openapi import document
from api.ports import Services
from api.ratelimit import check_vendor, is_client_path, refused_answer, with_quota_headers
from api.requests import MAX_BODY_BYTES, LedgerRequest
from domain.actor import act_as, stop_acting

CONTROLLERS = [AuthController, ProductController, LicenseController, StatsController, NotificationController,
               WebhookController, AdminController, ImportController, ClientController, LockenceController,
               AuditController, LicenseStateController, ProductStateController, LicenseHistoryController,
               SecurityController, EventStreamController]


class LimitedApp(DirectApp):
    """The application's entry: every HTTP request gets its actor (api/actors.py), so that an alert raised here names
    the request too, then is counted against its rate limits (api/ratelimit.py), before the direct front door or
    Litestar's routing; every counted answer gets the RateLimit-* headers, a vendor answer its X-Request-ID."""

    def __init__(self, runtime: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs, on_shutdown=[self._close])
        self.serve(runtime)

    def serve(self, runtime: Services) -> None:
        """Serve `runtime`'s services from now on (the tests give one app each test's runtime in turn)."""
        self.state.runtime = runtime  # what handlers and dependencies read
        self.runtime = runtime  # the same, without the state's lookup on every request

    def _close(self) -> None:
        self.runtime.close()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        client = is_client_path(scope["path"])
        request = RequestActor(scope, "client_api" if client else "vendor_api")
        token = act_as(request)  # not `with acting(...)`: a context manager costs more than a validation can spare
        try:
            await self._limited(scope, receive, send, request, client)
        finally:
            stop_acting(token)

    async def _limited(self, scope: Any, receive: Any, send: Any, request: RequestActor, client: bool) -> None:
        settings = self.runtime.settings
        limited = settings.rate_limit_api or settings.rate_limit_validation or settings.rate_limit_client_ip
        if limited:
            send = with_quota_headers(scope, send)
        if not client:
            send = with_request_id(send, request)
        if limited and settings.rate_limit_api and not client:
            runtime = self.runtime
            quota = await check_vendor(runtime, scope, account_id_of(runtime, scope))
            if quota is not None and quota.refused:
                body = refused_answer(quota)
                await send({"type": "http.response.start", "status": 429, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)


def under_api(controller: type[Controller]) -> type[Controller]:
    """The controller served under /api. Registered on the app itself, not on a Router at /api, because
    Litestar deep-copies a Router with every handler in it for each app it joins. A controller of vendor
    writes gets the idempotency middleware; other routes, the validations first, never pass through it."""
    path = "/api" + controller.path
    attributes: dict[str, Any] = {"path": path, "__module__": controller.__module__}
    if path in IDEMPOTENT_PATHS:
        declared = getattr(controller, "middleware", None)  # a slot's descriptor where the class declares none
        attributes["middleware"] = [IdempotencyMiddleware(), *(declared if isinstance(declared, list) else [])]
    return type(controller.__name__, (controller,), attributes)


def create_app(runtime: Services, middleware: Sequence[Middleware] = ()) -> Litestar:
    """Build the app around the services a request may use; closing the app closes them. `middleware` runs on
    every route, the directly answered validations included (api/direct.py), outside the vendor writes'
    idempotency middleware."""
    app = LimitedApp(
        runtime,
        route_handlers=[under_api(controller) for controller in CONTROLLERS],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        request_class=LedgerRequest,
        middleware=list(middleware),
        openapi_config=OpenAPIConfig(title="KeyLedger", version="0.1.0", path="/api/schema"),
        debug=False,
    )
    _allow_every_method(app)
    document(app)
    return app


def _allow_every_method(app: Litestar) -> None:
    """Litestar 2 answers OPTIONS with the methods of the first handler a path got, not all of them
    (litestar-org/litestar#4169, fixed in 3): point each path's OPTIONS answer at the route it serves."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.http_methods == {"OPTIONS"} and handler.fn.__code__.co_freevars == ("self",):
                    handler.fn.__closure__[0].cell_contents.methods = route.methods  # type: ignore[index]
