"""Client-call outcomes: one immutable record per call, appended to the call log and never loaded by commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

MAX_HWID = 256
MAX_INDICATORS = 50
MAX_TEXT = 200
SUMMARY_FIELDS = {"platform": "platform", "os_version": "os_version", "osVersion": "os_version",
                  "architecture": "architecture", "hostname": "hostname"}
"""What a call record keeps of a client's environment, by the spellings the SDKs send (Kotlin and Swift: camelCase)."""


@dataclass(frozen=True)
class ClientRequest:
    """What a client call presents: the key, the product, the device and where it came from."""

    license_key: str
    product_id: UUID | None
    hwid: str | None
    ip: str | None
    user_agent: str | None
    at: datetime
    client_data: Any = None
    """The JSON the client sent as `client_data` (every SDK sends an object), kept opaque; the API bounds its size."""


def environment_indicators(client_data: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The VM and debugger indicators a client reports, whichever way its SDK spells them (`vm_indicators`, or
    `vmIndicators` from Kotlin and Swift). Anything but a list of text (Go's `null`, Lua's `{}`) reports none."""
    if not client_data or not isinstance(client_data, dict):
        return (), ()
    return _texts(client_data, "vm_indicators", "vmIndicators"), _texts(client_data, "debug_indicators",
                                                                        "debugIndicators")


def fingerprint_of(client_data: Any) -> str | None:
    """The device fingerprint a client reports as `client_data.fingerprint` (a text of at most MAX_HWID
    characters; docs/licensing-rules.md), which a `fingerprint` blacklist entry matches; None when absent."""
    if not client_data or not isinstance(client_data, dict):
        return None
    value = client_data.get("fingerprint")
    return value[:MAX_HWID] if isinstance(value, str) and value.strip() else None


def _texts(client_data: dict, *names: str) -> tuple[str, ...]:
    for name in names:
        value = client_data.get(name)
        if isinstance(value, list):
            return tuple(item[:MAX_TEXT] for item in value[:MAX_INDICATORS] if isinstance(item, str) and item)
    return ()


def client_summary(client_data: Any) -> dict:
    """What a call record keeps of `client_data`: the platform, OS, architecture and host it names, and its
    indicators. The rest varies by SDK (runtime versions, memory, process ids) and is not kept."""
    if not isinstance(client_data, dict):
        return {}
    summary = {kept: value[:MAX_TEXT] for sent, kept in SUMMARY_FIELDS.items()
               if isinstance(value := client_data.get(sent), str) and value}
    vm, debug = environment_indicators(client_data)
    if vm:
        summary["vm_indicators"] = list(vm)
    if debug:
        summary["debug_indicators"] = list(debug)
    return summary


@dataclass(frozen=True, slots=True)
class CallRecord:
    """The outcome of one client call, as appended to the call log (success when error_code is None). Not an
    aggregate: nothing changes a call once it happened and no command loads it, so records go to their own
    append-only log and a busy license's stream stays small (docs/decisions/0020-client-call-log.md)."""

    action: str
    license_id: UUID | None
    product_id: UUID | None
    error_code: str | None
    security_event: str | None
    ip: str | None
    hwid: str | None
    user_agent: str | None
    details: dict
    at: datetime


def record_call(action: str, request: ClientRequest, license_id: UUID | None, error_code: str | None = None,
                security_event: str | None = None, details: dict | None = None) -> CallRecord:
    """The outcome record of one client call (success when error_code is None), with what matters of the
    client's environment when it sent one."""
    details = details or {}
    if request.client_data and (client := client_summary(request.client_data)):
        details = {**details, "client": client}
    return CallRecord(action, license_id, request.product_id, error_code, security_event, request.ip,
                      request.hwid, request.user_agent, details, request.at)
