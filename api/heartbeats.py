"""Heartbeats that come without a session token, and the sessions they may keep alive.

Rust's SDK heartbeats on its own with only the key, HWID and product (first at once after the
activation, then every interval), and Delphi's once a validation answer dropped its token. Such a
heartbeat keeps the live session of that license on that device alive. Which sessions a device
holds is read from the sessions read model; whether one of them still runs, and whether the
license allows the call, the ledger decides from the aggregates (commands/client.py).
"""

from uuid import UUID

from api.ports import Services
from domain.client_call import ClientRequest
from domain.ids import license_id_if_well_formed
from projections.base import ReadModelsBehindError
from projections.sessions import open_sessions_on_device

CATCH_UP_SECONDS = 1.0
"""How long a heartbeat that finds no session waits for the read model to catch up with the log's head."""


def device_sessions(runtime: Services, call: ClientRequest) -> list[UUID]:
    """The sessions the read model knows for the call's license on its device, newest first. A session begun
    moments ago may not be there yet: finding none, the read model is given the time to reach the log's head
    as of now, so a session started before this call is found."""
    license_id = license_id_if_well_formed(call.license_key)
    if license_id is None or not call.hwid:
        return []
    found = open_sessions_on_device(runtime.store, str(license_id), call.hwid)
    if not found:
        try:
            runtime.wait_for(runtime.ledger.position(), ("sessions",),
                             timeout=min(CATCH_UP_SECONDS, runtime.settings.consistency_timeout))
        except ReadModelsBehindError as behind:
            if behind.unreachable:
                raise
            return []
        found = open_sessions_on_device(runtime.store, str(license_id), call.hwid)
    return [UUID(session_id) for session_id in found]
