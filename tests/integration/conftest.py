"""Integration fixtures: the Ledger and read models of a real runtime (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.ledger import Ledger
from domain.account import Actor
from domain.client_call import ClientRequest
from domain.license import LicenseTerms, LicenseType
from domain.product import SigningAlgorithm
from keyledger.wiring import Runtime
from tests.conftest import FakeClock


@pytest.fixture
def ledger(runtime: Runtime) -> Ledger:
    return runtime.ledger


@pytest.fixture
def vendor() -> Actor:
    return Actor(uuid4())


@pytest.fixture
def other_vendor() -> Actor:
    return Actor(uuid4())


@pytest.fixture
def admin() -> Actor:
    return Actor(uuid4(), is_admin=True)


@pytest.fixture
def product_id(ledger: Ledger, vendor: Actor, clock: FakeClock) -> UUID:
    return ledger.create_product(vendor, "My App", "", SigningAlgorithm.ED25519, clock()).id


def issue(ledger: Ledger, actor: Actor, product_id: UUID, at: Any, license_type: LicenseType = LicenseType.SUBSCRIPTION,
          max_uses: int = 1, expires_at: Any = None, metadata: dict[str, Any] | None = None) -> UUID:
    terms = LicenseTerms(license_type=license_type, max_uses=max_uses, expires_at=expires_at, metadata=metadata or {})
    return ledger.issue_license(actor, product_id, terms, at).id


def settle(runtime: Runtime) -> None:
    """Read-your-writes for a test: every read model has reached the latest write (or TimeoutError)."""
    runtime.projector.wait(runtime.ledger.position(), timeout=10)


def race(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run the calls in threads released at the same instant; ("ok", value) or ("error", exception) each."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> tuple[str, Any]:
        barrier.wait()
        try:
            return "ok", call()
        except Exception as error:  # the outcome is what the race test checks
            return "error", error

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- Snapshots of every read model, for "rebuild equals incremental" -------------------------------

QUERY_MODULES = ("projections.stats", "projections.notifications", "projections.blacklist")
"""Read models whose query functions are still being written: whatever they offer is snapshotted."""

OWNER_PARAMS = frozenset({"owner_id", "account_id", "user_id", "actor_id"})


def snapshot(runtime: Runtime, vendors: list[Actor], license_ids: list[UUID]) -> dict[str, Any]:
    """Every query answer for these vendors and licenses (as of `runtime.clock()`), and every table's rows."""
    from projections import accounts, license_logs, licenses, products, sessions
    from workers.call_feeds import feed_calls
    from workers.security_feed import security_events_projection
    from workers.timeseries_feed import timeseries_projection

    store, now, projections = runtime.store, runtime.clock(), runtime.projector.projections
    # The call log's halves of the security events and the time series are fed by workers on their own beat:
    # bring them up to date.
    feed_calls(security_events_projection(projections), timeseries_projection(projections), runtime.ledger.calls.store,
               now)
    owners = [str(vendor.id) for vendor in vendors] + [None]  # None: an admin's view
    return {
        "accounts": accounts.list_accounts(store, 1, 10_000),
        "products": {owner: products.list_products(store, owner) for owner in owners},
        "licenses": {owner: licenses.list_licenses(store, owner, now, limit=10_000) for owner in owners},
        "license_logs": {str(i): license_logs.list_license_logs(store, runtime.ledger.calls.store, str(i), 1, 10_000)
                         for i in license_ids},
        "sessions": (sessions.list_sessions(store, now, limit=100_000), sessions.sessions_to_close(store, now),
                     sessions.count_active_sessions(store, now)),
        "queries": {name: _discovered_queries(runtime, name, owners) for name in QUERY_MODULES},
        "tables": _tables(runtime),
    }


def differences(rebuilt: dict[str, Any], incremental: dict[str, Any]) -> dict[str, Any]:
    """What differs between two snapshots, for an assertion's message: each answer that differs, and each table's
    rows found on one side only."""
    found: dict[str, Any] = {key: "answers differ" for key in rebuilt if key != "tables"
                             and rebuilt[key] != incremental.get(key)}
    for table, rows in rebuilt.get("tables", {}).items():
        other = incremental["tables"].get(table, [])
        if rows != other:
            found[table] = {"rebuilt only": [row for row in rows if row not in other][:5],
                            "incremental only": [row for row in other if row not in rows][:5]}
    return found


def _tables(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, in a total order (raw, so no query can hide a difference)."""
    tables = {}
    for projection in runtime.projector.projections:
        for table in projection.tables:
            rows = runtime.store.query(f"SELECT * FROM {table}")
            tables[table] = sorted((tuple(sorted(row.items())) for row in rows), key=repr)
    return tables


def _discovered_queries(runtime: Runtime, module_name: str, owners: list[str | None]) -> dict[str, Any]:
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    answers: dict[str, Any] = {}
    for name, function in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(function) or function.__module__ != module_name:
            continue
        parameters = inspect.signature(function).parameters
        if next(iter(parameters), None) != "store":
            continue
        for owner in owners if OWNER_PARAMS & set(parameters) else [None]:
            arguments = _arguments(runtime, parameters, owner)
            if arguments is not None:
                answers[f"{name}({owner})"] = function(**arguments)
    return answers


def _arguments(runtime: Runtime, parameters: Any, owner: str | None) -> dict[str, Any] | None:
    """Arguments by parameter name; None when the function needs something we cannot name."""
    known = {"store": runtime.store, "now": runtime.clock(), "at": runtime.clock(), "page": 1, "limit": 10_000}
    arguments = {}
    for name, parameter in parameters.items():
        if name in OWNER_PARAMS:
            arguments[name] = owner
        elif name in known:
            arguments[name] = known[name]
        elif parameter.default is parameter.empty and parameter.kind is not parameter.VAR_KEYWORD:
            return None
    return arguments


@pytest.fixture
def licensed(runtime: Runtime, clock: FakeClock) -> Callable[..., ClientRequest]:
    """A lifetime Ed25519 license of a new vendor; calling it gives a client request for its key."""
    ledger = runtime.ledger
    actor = Actor(ledger.register_account("c@example.com", "secret123", "C", clock()).id, is_admin=True)
    product = ledger.create_product(actor, "App", "", SigningAlgorithm.ED25519, clock()).id
    terms = LicenseTerms(license_type=LicenseType.LIFETIME, hwid_locked=False)
    ids, _ = ledger.issue_licenses(actor, product, 1, terms, clock())
    key = ledger.get_license(actor, ids[0]).key
    return lambda hwid="pc", ip="10.0.0.1": ClientRequest(key, product, hwid, ip, "test", clock())
