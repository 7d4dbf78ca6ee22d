"""Client commands: what the vendors' software calls (validate, activate, heartbeat, …).

Every call leaves one record in the call log, success or refusal, with the refusal's code and
security event; the licensing rules themselves live in domain/validation.py. A call that
changes state records its events first and its outcome once they are committed. The validate
route decides through the client gate (commands/client_gate.py), from the helpers here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import lru_cache, wraps
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar
from uuid import UUID, uuid4

from commands.base import CommandsBase
from commands.client_view import ClientView, entry_id
from commands.geo import CountryLookup, moved_event
from commands.ports import CallStore
from commands.retry import retry_on_conflict
from domain.blacklist import NETWORKS_ID, BlacklistEntry, BlacklistType, NetworkIndex
from domain.client_call import CallRecord, ClientRequest, environment_indicators, fingerprint_of, record_call
from domain.ids import license_id_if_well_formed
from domain.license import License
from domain.product import ClientCompatibility, Product
from domain.refusals import ClientRefusedError, SecurityViolationError, SessionExpiredError, UnknownLicenseError
from domain.session import SESSION_TTL, EndReason, Session
from domain.validation import DECIDED_FROM, Admitted, Attempt, check_attempt, check_identity, refuse_if_blocked
from keys.tokens import new_session_token, session_id_of, token_hash

log = logging.getLogger(__name__)

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
    calls: CallStore
    countries: CountryLookup | None = None
    """A GeoIP file's countries, when the operator configured one (`geo_anomaly`)."""

    @records_refusals("validation")
    def validate_license(self, request: ClientRequest) -> Granted:
        """A validation off the event loop (challenges): the gate's read-then-decide, blocking
        (commands/client_gate.py answers the validate route)."""
        admitted = check_attempt(self._attempt(request, read_only=True))
        self.calls.append(self.validated(request, admitted))
        return Granted(admitted.license, admitted.product)

    def validation_attempt(self, request: ClientRequest, head: int, load: Callable[[UUID], Any] | None = None
                           ) -> Attempt:
        """What a validation's rules look at, as of `head` (the gate's strategies, commands/client_gate.py)."""
        return self._attempt(request, read_only=True, head=head, load=load)

    def decided_on(self, request: ClientRequest, attempt: Attempt) -> list[UUID]:
        """What a validation's outcome depends on, one entry of DECIDED_ON per aggregate type it reads
        (domain/validation.py's DECIDED_FROM): ids whether or not the aggregates exist yet."""
        return [known for ids_of in DECIDED_ON.values() for known in ids_of(self, request, attempt)
                if known is not None]

    def validated(self, request: ClientRequest, admitted: Admitted) -> CallRecord:
        """The record of a validation the rules allowed."""
        return record_call("validation", request, admitted.license.id, security_event=admitted.detected)

    def answerable_from_memory(self, request: ClientRequest) -> bool:
        """Whether the view holds the license and product a validation reads, as current as its position."""
        license_id = self._license_id(request.license_key)
        if not self.view.is_current(license_id):
            return False
        license = self.view.cached(license_id)
        return self.view.is_current(request.product_id or (license.product_id if isinstance(license, License)
                                                            else None))

    @records_refusals("activation")
    @retry_on_conflict
    def activate_license(self, request: ClientRequest) -> Granted:
        """Bind the device (within max_uses) and start a session; racing activations retry on fresh state."""
        admitted = check_attempt(self._attempt(request, activating=True))
        license = admitted.license
        newly_bound = license.activate_device(request.hwid or "", request.at)
        session, token = self._start_session(license, request)
        self.record(license, session)
        self._log_change(record_call("activation", request, license.id, security_event=admitted.detected,
                                      details={"new_device": newly_bound}))
        return Granted(license, admitted.product, session, token)

    @records_refusals("deactivation")
    @retry_on_conflict
    def deactivate_license(self, request: ClientRequest) -> Granted:
        """Free the device's slot; its sessions end with it."""
        admitted = check_identity(self._attempt(request))
        license = admitted.license
        license.deactivate_device(request.hwid or "", request.at)
        self.record(license)
        self._log_change(record_call("deactivation", request, license.id))
        return Granted(license, admitted.product)

    @records_refusals("heartbeat")
    @retry_on_conflict
    def keep_session_alive(self, request: ClientRequest, session_token: str, rotate: bool = True) -> Granted:
        """A heartbeat: the license must still be valid and the session live; the token rotates (LicenseCM)."""
        live, session = self._live_session(request, session_token)
        moved = moved_event(session, request.ip, self.countries)  # recorded; refused if the product's policy says
        refuse_if_blocked(live.product, moved)
        token = new_session_token(session.id) if rotate else session_token
        session.keep_alive(token_hash(token), request.at)
        self.record(session)
        self._log_change(record_call("heartbeat", request, live.license.id, security_event=moved))
        return live._replace(session_token=token)

    @records_refusals("heartbeat")
    @retry_on_conflict
    def keep_device_session_alive(self, request: ClientRequest, candidates: list[UUID]) -> Granted:
        """A heartbeat without a token: the newest of `candidates` (from a read model) still running for this license
        on the calling device lives on, its token unchanged. Decided here from the aggregates, so a suspension or
        revoke applies on the very next call; see docs/decisions/0004-licensecm-sdk-compatibility.md."""
        admitted = check_attempt(self._attempt(request, read_only=True))
        license = admitted.license
        session = next((found for found in map(self._optional_session, candidates)
                        if found is not None and found.runs_for(license, request.hwid, request.at)), None)
        if session is None:
            raise SessionExpiredError()
        session.keep_alive(session.token_hash, request.at)
        self.record(session)
        self._log_change(record_call("heartbeat", request, license.id, details={"without_token": True}))
        return Granted(license, admitted.product, session)

    def _optional_session(self, session_id: UUID) -> Session | None:
        return self._optional(session_id, Session)

    @records_refusals("session_validation")
    def check_session(self, request: ClientRequest, session_token: str) -> Granted:
        """Lockence's validate: the session and its license must both still be good."""
        live, _ = self._live_session(request, session_token)
        self.calls.append(record_call("validation", request, live.license.id))
        return live

    @records_refusals("logout")
    @retry_on_conflict
    def end_session(self, request: ClientRequest, session_token: str) -> Session:
        session = self._session(session_token)
        if request.product_id not in (None, session.product_id):  # another product's key proves nothing here
            raise SessionExpiredError()
        license = self._client_license(session.license_id)
        session.require_live(token_hash(session_token), request.hwid, license, request.at)
        session.end(EndReason.LOGOUT, request.at)
        self.record(session)
        self._log_change(record_call("logout", request, license.id))
        return session

    def _live_session(self, request: ClientRequest, session_token: str) -> tuple[Granted, Session]:
        """The license the call names passes every rule (from the session's device), then the session, which
        must be one of that license's. A call naming no key (Lockence) names the session's license."""
        session = self._session(session_token)
        license_id = self._license_id(request.license_key) if request.license_key else session.license_id
        attempt = self._attempt(request, license_id=license_id, hwid=request.hwid or session.hwid, read_only=True)
        admitted = check_attempt(attempt)
        license = admitted.license
        try:
            session.require_live(token_hash(session_token), request.hwid, license, request.at)
        except SecurityViolationError as refusal:
            if refusal.security_event == "session_hijack":  # the token is out: nobody may use it any more
                self.end_hijacked_session(session.id, request.at)
            raise
        return Granted(license, admitted.product, session, session_token), session

    def _log_change(self, record: CallRecord) -> None:
        """Append the outcome of a call whose change is already recorded: the change stands, and is answered
        as such, even when its log line cannot be written (the event log shows the change anyway)."""
        try:
            self.calls.append(record)
        except Exception:  # noqa: BLE001 - whatever the log's store raised, the change is recorded
            log.exception("a %s was recorded, but its call record could not be", record.action)

    def record_refusal(self, action: str, request: ClientRequest, refusal: ClientRefusedError) -> None:
        """Append the outcome of a refused call (also used by the API for envelope failures)."""
        self.calls.append(self.refusal_record(action, request, refusal))

    def refusal_record(self, action: str, request: ClientRequest, refusal: ClientRefusedError) -> CallRecord:
        refusal.product_id = request.product_id  # the API answers in that product's protocol
        license_id = None if isinstance(refusal, UnknownLicenseError) else self._license_id(request.license_key)
        return record_call(action, request, license_id, refusal.code, refusal.security_event,
                           details={"message": refusal.detail})

    def _attempt(self, request: ClientRequest, activating: bool = False, license_id: UUID | None = None,
                 hwid: str | None = None, read_only: bool = False, head: int | None = None,
                 load: Callable[[UUID], Any] | None = None) -> Attempt:
        """Load what the rules look at, as of the log's head; `read_only` callers share cached instances
        (loaded with `load` when stale)."""
        head = self.view.catch_up() if head is None else head
        license_id = license_id or self._license_id(request.license_key)
        load = load or self._shared
        if read_only:
            license = self.view.current(license_id, License, head, load)
        else:
            license = self._optional(license_id, License)
        product_id = request.product_id or (license.product_id if license else None)
        product = self.view.current(product_id, Product, head, load)  # the client path never changes one
        vm_indicators, debug_indicators = environment_indicators(request.client_data)
        return Attempt(license, product, request.product_id, hwid or request.hwid, self._blacklist_hit(request),
                       request.at, activating, vm_indicators, debug_indicators)

    def _shared(self, aggregate_id: UUID) -> Any:
        return self._optional(aggregate_id, object, copy=False)

    def _license_id(self, key: str) -> UUID | None:
        return memoised_license_id(key) if len(key) <= 80 else None  # longer keys name no license: not memoised

    def _client_license(self, license_id: UUID | None) -> License | None:
        return self._optional(license_id, License) if license_id else None

    def _blacklist_hit(self, request: ClientRequest) -> BlacklistType | None:
        return self.view.hit(self._candidates(request), request.at)

    @staticmethod
    def _candidates(request: ClientRequest) -> tuple[tuple[BlacklistType, str | None], ...]:
        return ((BlacklistType.LICENSE, request.license_key.strip().upper()), (BlacklistType.HWID, request.hwid),
                (BlacklistType.IP, request.ip), (BlacklistType.FINGERPRINT, fingerprint_of(request.client_data)))

    def _session(self, session_token: str) -> Session:
        session = self._optional(session_id_of(session_token), Session)
        if session is None:
            raise SessionExpiredError()
        return session

    def answers_licensecm_sdks(self, product_id: UUID | None) -> bool:
        """Whether the product answers in the LicenseCM SDKs' way, as the client path last loaded it (memory
        only: a refusal asks, and refusals must stay cheap)."""
        product = self.view.cached(product_id)
        return isinstance(product, Product) and product.client_compatibility is ClientCompatibility.LICENSECM_SDK

    def client_product(self, product_id: UUID | None) -> Product | None:
        """A live product by id, or None: what a client may learn about a product."""
        product = self._optional(product_id, Product)
        return None if product is None or product.is_deleted else product

    def _start_session(self, license: License, request: ClientRequest) -> tuple[Session, str]:
        session_id = uuid4()
        token = new_session_token(session_id)
        session = Session(session_id, license.id, license.product_id, request.hwid or "", token_hash(token),
                          request.at + SESSION_TTL, request.ip, request.at)
        return session, token


DECIDED_ON: dict[type, Callable[[ClientCommands, ClientRequest, Attempt], Iterable[UUID | None]]] = {
    License: lambda commands, request, _: (commands._license_id(request.license_key),),
    Product: lambda _, request, attempt: (request.product_id or (attempt.license.product_id if attempt.license
                                                                  else None),),
    BlacklistEntry: lambda commands, request, _: (entry_id(entry_type, value) for entry_type, value
                                                  in commands._candidates(request) if value),
    NetworkIndex: lambda _, request, __: (NETWORKS_ID,) if request.ip else (),  # any network may hold the IP
}
"""The ids a conditional append checks, per aggregate type a decision reads: one entry for each of DECIDED_FROM."""
if set(DECIDED_ON) != set(DECIDED_FROM):
    raise ImportError(f"DECIDED_ON covers {sorted(t.__name__ for t in DECIDED_ON)}, a client decision reads "
                      f"{sorted(t.__name__ for t in DECIDED_FROM)} (domain/validation.py)")

memoised_license_id = lru_cache(maxsize=16384)(license_id_if_well_formed)
"""A call asks for its license id three times: a memo spares two regex matches and SHA-1s."""


__all__ = ["ClientCommands", "Granted"]
