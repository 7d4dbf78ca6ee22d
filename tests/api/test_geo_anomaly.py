"""geo_anomaly: a heartbeat from another country than its session's start, by a GeoIP file the operator gives."""

import msgspec
import pytest
from litestar.testing import TestClient
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from api.app import create_app
from keyledger.wiring import build_runtime
from tests.api.test_security_events import call, events, fed
from tests.conftest import calling_from, create_license, create_product, register

COUNTRIES = {"203.0.113.0/24": "NL", "192.0.2.0/24": "NL", "198.51.100.0/24": "US"}


@pytest.fixture
def geoip_db(tmp_path):
    """A small GeoLite2-Country-shaped file: two Dutch networks, one American."""
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    for network, country in COUNTRIES.items():
        writer.insert_network(IPSet([network]), {"country": {"iso_code": country}})
    path = tmp_path / "countries.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture
def geo_client(settings, clock, geoip_db):
    runtime = build_runtime(msgspec.structs.replace(settings, geoip_db=geoip_db), clock=clock)
    with TestClient(app=create_app(runtime)) as client:
        yield client, runtime


def moves(client, runtime, *addresses):
    """Activate from the first address, then heartbeat from each of the others; the events they raised."""
    admin = register(client, "admin@example.com")
    vendor = register(client, "vendor@example.com")
    license = create_license(client, vendor, create_product(client, vendor)["id"])
    with calling_from(client, addresses[0]):
        token = call(client, "activate", license).json()["data"]["session"]["token"]
    for address in addresses[1:]:
        with calling_from(client, address):
            answer = call(client, "heartbeat", license, session_token=token)
        assert answer.status_code == 200, answer.text  # recorded, never refused
        token = answer.json()["data"]["new_token"]
    fed(runtime)
    return [(e["event_type"], e["ip_address"]) for e in events(client, admin) if e["event_type"] != "license_activation"]


def test_a_heartbeat_from_another_country_is_a_geo_anomaly(geo_client):
    client, runtime = geo_client
    assert moves(client, runtime, "203.0.113.5", "198.51.100.7") == [("geo_anomaly", "198.51.100.7")]


def test_another_address_in_the_same_country_is_only_an_ip_mismatch(geo_client):
    client, runtime = geo_client
    assert moves(client, runtime, "203.0.113.5", "192.0.2.9", "10.9.9.9") == [
        ("ip_mismatch", "10.9.9.9"), ("ip_mismatch", "192.0.2.9")]  # 10.x: in no country, so not an anomaly


def test_without_a_geoip_file_a_move_abroad_is_an_ip_mismatch(client, runtime):
    assert moves(client, runtime, "203.0.113.5", "198.51.100.7") == [("ip_mismatch", "198.51.100.7")]
