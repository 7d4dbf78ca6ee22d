"""How a process connects to PostgreSQL: within its connection budget under a burst (served, not refused), and with
the credentials it was given."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import msgspec
import psycopg
import pytest

from adapters.call_log import to_row
from domain.account import Actor
from domain.client_call import CallRecord
from domain.license import LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from keyledger.wiring import CONNECTIONS_BESIDE_POOLS, build_runtime
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres

POOL = 2
CALLERS = 24


@pytest.fixture
def backend() -> str:
    return "postgres"


def connections_named(name: str) -> int:
    with psycopg.connect(POSTGRES_URL, autocommit=True, application_name="budget-counter") as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (name,)).fetchone()[0]


def test_a_burst_of_writes_and_reads_stays_within_the_pools_and_every_call_succeeds(settings, clock, monkeypatch):
    name = f"keyledger-budget-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PGAPPNAME", name)  # libpq names every connection this process opens from now on
    runtime = build_runtime(msgspec.structs.replace(settings, database_pool=POOL), clock=clock)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], connections_named(name))
            stop.wait(0.02)

    watcher = threading.Thread(target=watch)
    try:
        owner = runtime.ledger.register_account("budget@example.com", "secret123", "Budget", clock())
        actor = Actor(owner.id, is_admin=True)
        product = runtime.ledger.create_product(actor, "Budget", "", SigningAlgorithm.ED25519, clock())
        barrier = threading.Barrier(CALLERS)

        def burst(n: int) -> int:
            barrier.wait()
            lifetime = LicenseTerms(license_type=LicenseType.LIFETIME)
            ids, _ = runtime.ledger.issue_licenses(actor, product.id, 5, lifetime, clock())
            record = CallRecord("validate", ids[0], product.id, None, None, "127.0.0.1", f"device-{n}", "budget",
                                {}, clock())
            runtime.ledger.calls.store.append([to_row(record)])
            runtime.ledger.calls.store.history(str(ids[0]), 10)
            return len(runtime.store.query("SELECT id FROM licenses WHERE product_id = ?", (str(product.id),)))

        watcher.start()
        with ThreadPoolExecutor(max_workers=CALLERS) as pool:
            answered = list(pool.map(burst, range(CALLERS)))
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        runtime.close()

    # Check every caller was served (a refused connection would have raised), and that the process never held more
    # than its two pools and the connections beside them, where it used to open up to 30 for the event store alone.
    assert len(answered) == CALLERS
    assert 0 < peak[0] <= 2 * POOL + CONNECTIONS_BESIDE_POOLS, peak[0]


def test_a_password_with_a_space_and_a_quote_reaches_postgresql_intact(settings, clock):
    # The password travels percent-encoded in the URL and quoted in libpq's conninfo (this server trusts
    # every local connection, so a mangled conninfo is what would fail: libpq refuses to parse it).
    url = settings.database_url.replace("postgresql://postgres@", "postgresql://postgres:p%20w%27d@")
    runtime = build_runtime(msgspec.structs.replace(settings, database_url=url), clock=clock)
    try:
        runtime.ledger.register_account("quoted@example.com", "secret123", "Quoted", clock())
        runtime.wait_for(runtime.ledger.position())
        record = CallRecord("validate", None, None, None, None, "127.0.0.1", "device", "quoted", {}, clock())
        runtime.ledger.calls.append(record)
        # Check all three stores answer: the event store, the read models, the call log.
        assert runtime.store.query("SELECT email FROM accounts") == [{"email": "quoted@example.com"}]
        assert runtime.ledger.calls.store.head() == 1
    finally:
        runtime.close()
