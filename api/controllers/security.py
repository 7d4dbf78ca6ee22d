"""Security (admin only): the blacklist, quick blocks, client sessions, security events and their stats."""

from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.deps import AdminDep, InstantQuery, LimitQuery, PageQuery, RuntimeDep, window
from api.envelope import Ok
from api.ports import Services
from api.schemas.common import Deleted
from api.schemas.security import (
    BlacklistEntry,
    BlacklistEntryCreate,
    BlacklistPage,
    ClientSession,
    HwidBlock,
    IpBlock,
    Revocation,
    SecurityEventPage,
    SecurityStats,
    SessionPage,
    SessionsRevoked,
)
from commands.blacklist import BlacklistEntryNotFoundError
from commands.sessions import SessionNotFoundError
from domain.blacklist import BlacklistType
from domain.security_events import SEVERITIES, SEVERITY_LEVELS
from projections import blacklist, security_events, sessions

TypeQuery = Annotated[Literal["ip", "hwid", "license", "fingerprint"] | None, QueryParameter(name="type")]
SeverityQuery = Annotated[Literal["low", "medium", "high", "critical"] | None, QueryParameter()]
ActiveQuery = Annotated[bool | None, QueryParameter()]
EventTypeQuery = Annotated[Literal[tuple(SEVERITIES)] | None, QueryParameter()]  # type: ignore[valid-type]
EventSeverityQuery = Annotated[Literal[SEVERITY_LEVELS] | None, QueryParameter()]  # type: ignore[valid-type]
IpQuery = Annotated[str | None, QueryParameter(max_length=64, pattern=r"^[^\x00]*$")]  # PostgreSQL text holds no NUL
HwidQuery = Annotated[str | None, QueryParameter(max_length=256, pattern=r"^[^\x00]*$")]




def _entry(runtime: Services, entry_id: UUID) -> BlacklistEntry:
    row = blacklist.get_entry(runtime.store, str(entry_id), runtime.clock())
    if row is None:
        raise BlacklistEntryNotFoundError(entry_id)
    return msgspec.convert(row, BlacklistEntry)


def _session(runtime: Services, session_id: UUID) -> ClientSession:
    row = sessions.get_session(runtime.store, str(session_id), runtime.clock())
    if row is None:
        raise SessionNotFoundError(session_id)
    return msgspec.convert(row, ClientSession)


class SecurityController(Controller):
    path = "/security"
    tags = ["security"]

    @get("/blacklist", sync_to_thread=True)
    def list_blacklist(self, admin: AdminDep, runtime: RuntimeDep, entry_type: TypeQuery = None,
                       severity: SeverityQuery = None, is_active: ActiveQuery = None,
                       page: PageQuery = 1, limit: LimitQuery = 20) -> Ok[BlacklistPage]:
        rows, pages = blacklist.list_entries(runtime.store, runtime.clock(), entry_type=entry_type,
                                             severity=severity, is_active=is_active, page=page, limit=limit)
        return Ok(data=msgspec.convert({"entries": rows, "pagination": pages}, BlacklistPage))

    @post("/blacklist", status_code=201, sync_to_thread=True)
    def create_blacklist_entry(self, data: JSONBody[BlacklistEntryCreate], admin: AdminDep,
                               runtime: RuntimeDep) -> Ok[BlacklistEntry]:
        receipt = runtime.ledger.add_blacklist_entry(data.type, data.value, data.reason, data.severity,
                                                     data.expires_at, UUID(admin["id"]), runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=_entry(runtime, receipt.id))

    @delete("/blacklist/{entry_id:uuid}", status_code=200, sync_to_thread=True)
    def delete_blacklist_entry(self, entry_id: FromPath[UUID], admin: AdminDep, runtime: RuntimeDep) -> Ok[Deleted]:
        receipt = runtime.ledger.remove_blacklist_entry(entry_id, runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=Deleted(entry_id, True))

    @post("/block-ip", status_code=201, sync_to_thread=True)
    def block_ip(self, data: JSONBody[IpBlock], admin: AdminDep, runtime: RuntimeDep) -> Ok[BlacklistEntry]:
        receipt = runtime.ledger.block_value(BlacklistType.IP, data.ip, data.reason, data.duration_hours,
                                             UUID(admin["id"]), runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=_entry(runtime, receipt.id))

    @post("/block-hwid", status_code=201, sync_to_thread=True)
    def block_hwid(self, data: JSONBody[HwidBlock], admin: AdminDep, runtime: RuntimeDep) -> Ok[BlacklistEntry]:
        receipt = runtime.ledger.block_value(BlacklistType.HWID, data.hwid, data.reason, data.duration_hours,
                                             UUID(admin["id"]), runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=_entry(runtime, receipt.id))

    @get("/sessions", sync_to_thread=True)
    def list_sessions(self, admin: AdminDep, runtime: RuntimeDep, license_id: FromQuery[UUID | None] = None,
                      is_active: ActiveQuery = None, page: PageQuery = 1, limit: LimitQuery = 20) -> Ok[SessionPage]:
        rows, pages = sessions.list_sessions(runtime.store, runtime.clock(), license_id=license_id and str(license_id),
                                             is_active=is_active, page=page, limit=limit)
        return Ok(data=msgspec.convert({"sessions": rows, "pagination": pages}, SessionPage))

    @post("/sessions/{session_id:uuid}/revoke", status_code=200, sync_to_thread=True)
    def revoke_session(self, session_id: FromPath[UUID], data: JSONBody[Revocation], admin: AdminDep,
                       runtime: RuntimeDep) -> Ok[ClientSession]:
        receipt = runtime.ledger.revoke_session(session_id, data.reason, runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=_session(runtime, session_id))

    @post("/licenses/{license_id:uuid}/revoke-sessions", status_code=200, sync_to_thread=True)
    def revoke_license_sessions(self, license_id: FromPath[UUID], data: JSONBody[Revocation], admin: AdminDep,
                                runtime: RuntimeDep) -> Ok[SessionsRevoked]:
        running = sessions.count_active_sessions(runtime.store, runtime.clock(), license_id=str(license_id))
        receipt = runtime.ledger.revoke_license_sessions(license_id, data.reason, runtime.clock())
        runtime.wait_for(receipt.position)
        return Ok(data=SessionsRevoked(license_id, running))

    @get("/events", sync_to_thread=True)
    def list_security_events(
        self, admin: AdminDep, runtime: RuntimeDep, event_type: EventTypeQuery = None,
        severity: EventSeverityQuery = None, license_id: FromQuery[UUID | None] = None, ip_address: IpQuery = None,
        hwid: HwidQuery = None, is_blocked: ActiveQuery = None, start_date: InstantQuery = None,
        end_date: InstantQuery = None, page: PageQuery = 1, limit: LimitQuery = 20,
    ) -> Ok[SecurityEventPage]:
        start, end = window(start_date, end_date, ("start_date", "end_date"))
        rows, pages = security_events.list_security_events(
            runtime.store, event_type=event_type, severity=severity, license_id=license_id and str(license_id),
            ip_address=ip_address, hwid=hwid, is_blocked=is_blocked, start_date=start, end_date=end, page=page,
            limit=limit)
        return Ok(data=msgspec.convert({"events": rows, "pagination": pages}, SecurityEventPage))

    @get("/stats", sync_to_thread=True)
    def security_stats(self, admin: AdminDep, runtime: RuntimeDep) -> Ok[SecurityStats]:
        now = runtime.clock()
        stats = security_events.security_event_stats(runtime.store, now)
        stats["overview"] |= {"active_blacklist": blacklist.count_active_entries(runtime.store, now),
                              "active_sessions": sessions.count_active_sessions(runtime.store, now)}
        return Ok(data=msgspec.convert(stats, SecurityStats))
