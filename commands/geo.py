"""Where a client call comes from, as the `ip_mismatch` and `geo_anomaly` rules need it."""

from __future__ import annotations

from typing import Protocol

from domain.session import Session


class CountryLookup(Protocol):
    """An IP address's country (ISO 3166 alpha-2), or None when unknown (adapters/geoip.py reads a GeoIP file)."""

    def country_of(self, ip: str) -> str | None: ...


def moved_event(session: Session, ip: str | None, countries: CountryLookup | None) -> str | None:
    """The event a heartbeat from `ip` raises: none from the session's own address; `geo_anomaly` when both
    addresses' countries are known and differ; `ip_mismatch` otherwise (always so without a GeoIP file)."""
    if not session.moved_to(ip):
        return None
    if countries is not None and session.ip and ip:  # both known once the call has moved
        started, now = countries.country_of(session.ip), countries.country_of(ip)
        if started and now and started != now:
            return "geo_anomaly"
    return "ip_mismatch"
