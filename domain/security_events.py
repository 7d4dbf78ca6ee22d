"""Security event types and their severities: what `/security/events` lists, from client calls and alerts."""

from __future__ import annotations

CALL_TYPES = {"validation": "license_validation", "activation": "license_activation",
              "deactivation": "license_deactivation"}
"""A client call's action, as the security event it is when nothing more specific happened."""

SEVERITIES = {
    "license_validation": "info", "license_activation": "info", "license_deactivation": "info",
    "ip_mismatch": "low",
    "hwid_mismatch": "medium", "geo_anomaly": "medium", "vm_detected": "medium", "rate_limit_exceeded": "medium",
    "hwid_spoof_attempt": "high", "debug_detected": "high", "tamper_detected": "high", "replay_attack": "high",
    "blacklist_hit": "high", "manual_block": "high",
    "brute_force": "critical", "session_hijack": "critical",
}
"""Each event type's severity (the spec's five levels); a SecurityAlert carries its own."""

SEVERITY_LEVELS = ("info", "low", "medium", "high", "critical")

STATS_DAYS = 7
"""The days `/security/stats` counts (today included): a retention of info events may not be shorter."""


def severity_of(event_type: str) -> str:
    return SEVERITIES.get(event_type, "medium")


def call_event_types(action: str, security_event: str | None, details: dict) -> list[str]:
    """The security events a call record stands for: its own (else its action's; none for other actions, such
    as a heartbeat that raised nothing), and each environment detection its client reported, so a call carrying
    both debugger and VM indicators stands for both `debug_detected` and `vm_detected`."""
    first = security_event or CALL_TYPES.get(action)
    types = [first] if first else []
    client = details.get("client")
    if isinstance(client, dict):
        types += [name for name, key in _DETECTIONS if client.get(key) and name != first]
    return types


_DETECTIONS = (("debug_detected", "debug_indicators"), ("vm_detected", "vm_indicators"))
"""What a client reports of its environment (`client_data`), as the event each report stands for."""
