"""BlacklistEntry aggregate: an IP (or network), HWID, license key or fingerprint refused at every client call."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from enum import Enum
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import InvalidValueError
from domain.ids import NAMESPACE

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_VALUE = 256

NETWORKS_ID = uuid5(NAMESPACE, "blacklist:ip-networks")
"""The index aggregate every change to an IP *network* entry also touches: a client call decided from memory
depends on it (whatever networks exist), so a network added anywhere applies to the next call."""


class BlacklistType(Enum):
    IP = "ip"
    HWID = "hwid"
    LICENSE = "license"
    FINGERPRINT = "fingerprint"


class Severity(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def blacklist_entry_id(entry_type: BlacklistType, value: str) -> UUID:
    return uuid5(NAMESPACE, f"blacklist:{entry_type.value}:{value.strip().lower()}")


def normalise_value(entry_type: BlacklistType, value: str) -> str:
    """The value as the entry keeps it: an IP in its canonical text, a network as `address/prefix` (a single
    address's network as the address), anything else trimmed. Raises InvalidValueError for an empty value, or
    for an `ip` value that is neither an address nor a network (host bits set: `10.0.0.1/8` is refused)."""
    text = value.strip()
    if not text or len(text) > MAX_VALUE:
        raise InvalidValueError(f"value must be 1 to {MAX_VALUE} characters")
    if entry_type is not BlacklistType.IP:
        return text
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise InvalidValueError(f"{text!r} is not an IP address or network") from None
    single = network.num_addresses == 1
    return str(network.network_address) if single else str(network)


def network_of(entry_type: BlacklistType, value: str) -> IpNetwork | None:
    """The network an `ip` entry covers when it is wider than one address (None otherwise)."""
    if entry_type is not BlacklistType.IP or "/" not in value:
        return None
    return ipaddress.ip_network(value, strict=False)


def address_in(ip: str, networks: list[IpNetwork]) -> bool:
    """Whether a caller's address lies inside one of `networks` (IPv4-mapped IPv6 counts as its IPv4)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in networks)


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    """An entry's expiry, when it has one, lies ahead: an entry that never blocked is a mistake."""
    if expires_at is not None and expires_at <= now:
        raise InvalidValueError("expires_at must be in the future")


class BlacklistEntry(Aggregate):
    """One blocked value; re-adding a removed or expired value reactivates the same entry."""

    @event("Added")
    def __init__(self, entry_type: BlacklistType, value: str, reason: str, severity: Severity,
                 expires_at: datetime | None, added_by: UUID | None, at: datetime) -> None:
        self.is_network = network_of(entry_type, value) is not None
        self._activate(expires_at)

    @staticmethod
    def create_id(entry_type: BlacklistType, value: str) -> UUID:
        return blacklist_entry_id(entry_type, value)

    def _activate(self, expires_at: datetime | None) -> None:
        self.is_active = True
        self.expires_at = expires_at

    def blocks_at(self, now: datetime) -> bool:
        return self.is_active and (self.expires_at is None or self.expires_at > now)

    @event("Readded")
    def readd(self, reason: str, severity: Severity, expires_at: datetime | None, added_by: UUID | None,
              at: datetime) -> None:
        self._activate(expires_at)

    def remove(self, at: datetime) -> None:
        if self.is_active:
            self._remove(at=at)

    @event("Removed")
    def _remove(self, at: datetime) -> None:
        self.is_active = False

    def expire(self, now: datetime) -> bool:
        """Record that the entry's expiry has passed, at the expiry's own time; False when it has not (or the
        entry is no longer active)."""
        if not self.is_active or self.expires_at is None or self.expires_at > now:
            return False
        self._expire(at=self.expires_at)
        return True

    @event("Expired")
    def _expire(self, at: datetime) -> None:
        self.is_active = False


class NetworkIndex(Aggregate):
    """Touched by every change to an IP network entry (id NETWORKS_ID), so that a change to any network is a
    change to one aggregate a client call can name. Holds no state."""

    @staticmethod
    def create_id() -> UUID:
        return NETWORKS_ID

    @event("Created")
    def __init__(self, at: datetime) -> None:
        pass

    @event("NetworkChanged")
    def network_changed(self, entry_id: UUID, at: datetime) -> None:
        pass
