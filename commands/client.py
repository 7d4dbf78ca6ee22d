"""Client commands: what the vendors' software calls (validate, activate, heartbeat, …).

Every call leaves one record in the call log, success or refusal, with the refusal's code and
security event; the licensing rules themselves live in domain/validation.py. A call that
changes state records its events first and its outcome once they are committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar
from uuid import UUID, uuid4

from commands.base import CommandsBase
from commands.client_view import ClientView
from commands.call_log import CallLog
from commands.products import SECRET_PURPOSE
from commands.retry import retry_on_conflict
from domain.blacklist import BlacklistType
from domain.client_call import CallRecord, ClientRequest, record_call
from domain.ids import is_well_formed_license_key, license_id_for_key
from domain.license import License
from domain.product import Product
from domain.refusals import ClientRefusedError, SessionExpiredError, UnknownLicenseError
from domain.session import SESSION_TTL, EndReason, Session
from domain.validation import Attempt, check_attempt, check_identity
from keys.secrets import unseal
from keys.tokens import new_session_token, session_id_of, token_hash

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound="ClientCommands")


class Granted(NamedTuple):
    """A call the rules allowed: the license, its product, and the session when there is one."""

    license: License
    product: Product
    session: Session | None = None
    session_token: str | None = None


def records_refusals(action: str) -> Callable[[Callable[Concatenate[C, ClientRequest, P], R]],
                                              Callable[Concatenate[C, ClientRequest, P], R]]:
    """Record a refused call (its code, security event, ip, hwid) before the refusal reaches the API."""

    def decorate(command: Callable[Concatenate[C, ClientRequest, P], R]) -> Callable[Concatenate[C, ClientRequest, P], R]:
        @wraps(command)
        def wrapper(self: C, request: ClientRequest, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return command(self, request, *args, **kwargs)
            except ClientRefusedError as refusal:
                self.record_refusal(action, request, refusal)
                raise

        return wrapper

    return decorate


class ClientCommands(CommandsBase):
    """The client-API part of the Ledger."""

    view: ClientView
    calls: CallLog

    @records_refusals("validation")
    def validate_license(self, request: ClientRequest) -> Granted:
        attempt = self._attempt(request, read_only=True)
        check_attempt(attempt)
        self.calls.append(self._validated(request, attempt))
        return Granted(attempt.license, attempt.product)  # type: ignore[arg-type]

    async def validate_license_async(self, request: ClientRequest) -> Granted:
        """`validate_license` on an event loop: memory only, unless a license or product must be (re)loaded."""
        try:
            head = await self.view.fresh()
            if self._answerable_from_memory(request):
                attempt = self._attempt(request, read_only=True, head=head)
            else:
                attempt = await asyncio.to_thread(self._attempt, request, read_only=True, head=head)
            check_attempt(attempt)
        except ClientRefusedError as refusal:
            await self.calls.append_async(self.refusal_record("validation", request, refusal))
            raise
        await self.calls.append_async(self._validated(request, attempt))
        return Granted(attempt.license, attempt.product)  # type: ignore[arg-type]

    def _validated(self, request: ClientRequest, attempt: Attempt) -> CallRecord:
        return record_call("validation", request, attempt.license.id,  # type: ignore[union-attr]
                           security_event=attempt.detected)

    def _answerable_from_memory(self, request: ClientRequest) -> bool:
        license_id = self._license_id(request.license_key)
        if not self.view.is_current(license_id):
            return False
        license = self.view.cached(license_id)
        return self.view.is_current(request.product_id or getattr(license, "product_id", None))

    @records_refusals("activation")
    @retry_on_conflict
    def activate_license(self, request: ClientRequest) -> Granted:
        """Bind the device (within max_uses) and start a session; racing activations retry on fresh state."""
        attempt = self._attempt(request, activating=True)
        check_attempt(attempt)
        license: License = attempt.license  # type: ignore[assignment]
        newly_bound = license.activate_device(request.hwid or "", request.at)
        session, token = self._start_session(license, request)
        self.record(license, session)
        self.calls.append(record_call("activation", request, license.id, security_event=attempt.detected,
                                      details={"new_device": newly_bound}))
        return Granted(license, attempt.product, session, token)  # type: ignore[arg-type]

    @records_refusals("deactivation")
    @retry_on_conflict
    def deactivate_license(self, request: ClientRequest) -> Granted:
        """Free the device's slot; its sessions end with it."""
        attempt = self._attempt(request)
        check_identity(attempt)
        license: License = attempt.license  # type: ignore[assignment]
        license.deactivate_device(request.hwid or "", request.at)
        self.record(license)
        self.calls.append(record_call("deactivation", request, license.id))
        return Granted(license, attempt.product)  # type: ignore[arg-type]

    @records_refusals("heartbeat")
    @retry_on_conflict
    def keep_session_alive(self, request: ClientRequest, session_token: str, rotate: bool = True) -> Granted:
        """A heartbeat: the license must still be valid and the session live; the token rotates (LicenseCM)."""
        live = self._live_session(request, session_token)
        session: Session = live.session  # type: ignore[assignment]
        token = new_session_token(session.id) if rotate else session_token
        session.keep_alive(token_hash(token), request.at)
        self.record(session)
        self.calls.append(record_call("heartbeat", request, live.license.id))
        return live._replace(session_token=token)

    @records_refusals("session_validation")
    def check_session(self, request: ClientRequest, session_token: str) -> Granted:
        """Lockence's validate: the session and its license must both still be good."""
        live = self._live_session(request, session_token)
        self.calls.append(record_call("validation", request, live.license.id))
        return live

    @records_refusals("logout")
    @retry_on_conflict
    def end_session(self, request: ClientRequest, session_token: str) -> Session:
        session = self._session(session_token)
        license = self._client_license(session.license_id)
        session.require_live(token_hash(session_token), request.hwid, license, request.at)
        session.end(EndReason.LOGOUT, request.at)
        self.record(session)
        self.calls.append(record_call("logout", request, license.id))
        return session

    def _live_session(self, request: ClientRequest, session_token: str) -> Granted:
        """The session's license passes every rule (from the session's device), then the session itself."""
        session = self._session(session_token)
        attempt = self._attempt(request, license_id=session.license_id, hwid=request.hwid or session.hwid,
                                read_only=True)
        check_attempt(attempt)
        license: License = attempt.license  # type: ignore[assignment]
        session.require_live(token_hash(session_token), request.hwid, license, request.at)
        return Granted(license, attempt.product, session, session_token)  # type: ignore[arg-type]

    def record_refusal(self, action: str, request: ClientRequest, refusal: ClientRefusedError) -> None:
        """Append the outcome of a refused call (also used by the API for envelope failures)."""
        self.calls.append(self.refusal_record(action, request, refusal))

    def refusal_record(self, action: str, request: ClientRequest, refusal: ClientRefusedError) -> CallRecord:
        license_id = None
        if is_well_formed_license_key(request.license_key) and not isinstance(refusal, UnknownLicenseError):
            license_id = license_id_for_key(request.license_key)
        return record_call(action, request, license_id, refusal.code, refusal.security_event,
                           details={"message": refusal.detail})

    def _attempt(self, request: ClientRequest, activating: bool = False, license_id: UUID | None = None,
                 hwid: str | None = None, read_only: bool = False, head: int | None = None) -> Attempt:
        """Load what the rules look at, as of the log's head; `read_only` callers share cached instances."""
        head = self.view.catch_up() if head is None else head
        license_id = license_id or self._license_id(request.license_key)
        if read_only:
            license = self.view.current(license_id, License, head, self._shared)
        else:
            license = self._optional(license_id, License)
        product_id = request.product_id or (license.product_id if license else None)
        product = self.view.current(product_id, Product, head, self._shared)  # the client path never changes one
        indicators = request.client_data or {}
        return Attempt(license, product, request.product_id, hwid or request.hwid, self._blacklist_hit(request),
                       request.at, activating, tuple(indicators.get("vm_indicators", ())),
                       tuple(indicators.get("debug_indicators", ())))

    def _shared(self, aggregate_id: UUID) -> Any:
        return self._optional(aggregate_id, object, copy=False)

    def _license_id(self, key: str) -> UUID | None:
        return license_id_for_key(key) if is_well_formed_license_key(key) else None

    def _client_license(self, license_id: UUID | None) -> License | None:
        return self._optional(license_id, License) if license_id else None

    def _blacklist_hit(self, request: ClientRequest) -> BlacklistType | None:
        candidates = ((BlacklistType.LICENSE, request.license_key.strip().upper()), (BlacklistType.HWID, request.hwid),
                      (BlacklistType.IP, request.ip))
        return self.view.hit(candidates, request.at)

    def _session(self, session_token: str) -> Session:
        session = self._optional(session_id_of(session_token), Session)
        if session is None:
            raise SessionExpiredError()
        return session

    def client_product(self, product_id: UUID | None) -> Product | None:
        """A live product by id, or None: what a client may learn about a product."""
        product = self._optional(product_id, Product)
        return None if product is None or product.is_deleted else product

    def client_secret(self, product_id: UUID | None) -> str | None:
        """The product's current secret key, for the encryption envelope and challenges (None: unknown)."""
        product = self.client_product(product_id)
        return None if product is None else unseal(self.master_key, product.sealed_secret, SECRET_PURPOSE)

    def _start_session(self, license: License, request: ClientRequest) -> tuple[Session, str]:
        session_id = uuid4()
        token = new_session_token(session_id)
        session = Session(session_id, license.id, license.product_id, request.hwid or "", token_hash(token),
                          request.at + SESSION_TTL, request.ip, request.at)
        return session, token


__all__ = ["ClientCommands", "Granted"]
