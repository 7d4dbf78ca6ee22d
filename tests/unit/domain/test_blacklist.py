"""BlacklistEntry: values normalised, networks matched, expiry recorded at its own time."""

from datetime import datetime, timedelta, timezone

import pytest

from domain.blacklist import (
    BlacklistEntry,
    BlacklistType,
    Severity,
    address_in,
    network_of,
    normalise_value,
)
from domain.errors import InvalidValueError

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("value", "kept"), [
    (" 10.0.0.1 ", "10.0.0.1"), ("10.0.0.0/8", "10.0.0.0/8"), ("10.0.0.7/32", "10.0.0.7"),
    ("2001:DB8:0:0::1", "2001:db8::1"), ("2001:db8::/32", "2001:db8::/32"),
])
def test_ip_values_are_kept_in_their_canonical_form(value, kept):
    assert normalise_value(BlacklistType.IP, value) == kept


@pytest.mark.parametrize("value", ["", "   ", "10.0.0.1/8", "10.0.0.256", "host.example", "::g", "x" * 300])
def test_values_that_are_not_addresses_or_networks_are_refused_for_ip(value):
    with pytest.raises(InvalidValueError):
        normalise_value(BlacklistType.IP, value)


def test_only_networks_wider_than_one_address_are_matched_by_range():
    networks = [network_of(BlacklistType.IP, "192.0.2.0/28")]
    assert network_of(BlacklistType.IP, "192.0.2.1") is None
    assert network_of(BlacklistType.HWID, "a/b") is None
    assert address_in("192.0.2.15", networks) and not address_in("192.0.2.16", networks)
    assert not address_in("testclient", networks) and not address_in("2001:db8::1", networks)


def test_an_expired_entry_records_its_expiry_at_the_entrys_own_time():
    expires_at = NOW + timedelta(hours=1)
    entry = BlacklistEntry(BlacklistType.HWID, "pc", "sharing", Severity.LOW, expires_at, None, NOW)
    assert entry.expire(NOW) is False
    assert entry.blocks_at(NOW) and not entry.blocks_at(expires_at)

    assert entry.expire(NOW + timedelta(days=3)) is True
    expired = entry.collect_events()[-1]
    assert isinstance(expired, BlacklistEntry.Expired) and expired.at == expires_at
    assert entry.expire(NOW + timedelta(days=4)) is False  # once
    # Check re-adding revives the same entry.
    entry.readd("again", Severity.HIGH, None, None, NOW + timedelta(days=5))
    assert entry.blocks_at(NOW + timedelta(days=500))


def test_an_entry_without_expiry_never_expires():
    entry = BlacklistEntry(BlacklistType.IP, "10.0.0.0/8", "scan", Severity.HIGH, None, None, NOW)
    assert entry.is_network and entry.expire(NOW + timedelta(days=10_000)) is False
