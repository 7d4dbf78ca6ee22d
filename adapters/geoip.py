"""A GeoIP database file (MaxMind DB format: GeoLite2/GeoIP2 Country or City, or compatible), read with maxminddb."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import maxminddb


class MaxMindCountries:
    """Countries of IP addresses from a `.mmdb` file, memory-mapped; answers the CountryLookup of commands/geo.py."""

    def __init__(self, path: str) -> None:
        self._reader = maxminddb.open_database(path)
        self.country_of = lru_cache(maxsize=4096)(self._country_of)  # heartbeats repeat their addresses

    def _country_of(self, ip: str) -> str | None:
        try:
            record: Any = self._reader.get(ip)
        except ValueError:  # not an address (a test client's "testclient")
            return None
        country = record.get("country") if isinstance(record, dict) else None
        return country.get("iso_code") if isinstance(country, dict) else None

    def close(self) -> None:
        self._reader.close()
