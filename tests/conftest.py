"""Shared fixtures: the backend matrix (SQLite, PostgreSQL), a runtime, an API client, a clock."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from litestar.testing import TestClient

from api.app import LimitedApp, create_app
from keyledger.settings import Settings
from keyledger.wiring import Runtime, build_runtime

POSTGRES_URL = os.environ.get("KEYLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KEYLEDGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


LIMITS_OFF = {"rate_limit_api": 0, "rate_limit_validation": 0, "rate_limit_client_ip": 0, "brute_force_logins": 0,
              "brute_force_unknown_keys": 0}
"""Tests turn the rate limits and brute-force blocks off unless they test them (tests/api/test_rate_limits.py,
tests/api/test_brute_force.py)."""
LIMITS_OFF_ENV = {f"KEYLEDGER_{name.upper()}": str(value) for name, value in LIMITS_OFF.items()}
"""The same, for `keyledger serve` processes."""


class FakeClock:
    """A clock the test moves by hand (time is passed in everywhere, so this is all it takes)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def admin() -> psycopg.Connection[Any]:
    """A connection for the tests' own DDL: one that waits on a lock fails after 10 s instead of hanging."""
    return psycopg.connect(POSTGRES_URL, autocommit=True, options="-c lock_timeout=10s")


@contextmanager
def throwaway_schema(prefix: str) -> Iterator[str]:
    """A fresh schema of the test PostgreSQL, named `prefix` and a random part; dropped with all it holds."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class SchemaPool:
    """Throwaway PostgreSQL schemas, emptied, renamed and reused within a test process: creating every table of
    a runtime takes PostgreSQL about a second, and emptying them a tenth of that.

    A schema is reused only if it holds exactly the tables, columns and indexes a fresh runtime creates (a
    test that altered or dropped any gets a new schema) and no session still holds its projection lock (a
    runtime left open could write into the next test's data); otherwise it is dropped."""

    def __init__(self, data_dir: Path, pems: dict[str, bytes]) -> None:
        self._free: list[str] = []
        self._layout: str | None = None
        self._data_dir = data_dir
        self._pems = pems

    def take(self) -> str:
        """A schema without rows (a reused one keeps a fresh runtime's tables) under a name never used before:
        what is named after a deployment's database (its Redis counters, its advisory locks) starts afresh too.
        The event store's insert function names its schema, and the runtime creates it again (CREATE OR REPLACE)
        on start."""
        schema = f"kl_{uuid.uuid4().hex[:12]}"
        with admin() as conn:
            if self._free:
                conn.execute(f'ALTER SCHEMA "{self._free.pop()}" RENAME TO "{schema}"')
            else:
                conn.execute(f'CREATE SCHEMA "{schema}"')
        return schema

    def give_back(self, schema: str) -> None:
        with admin() as conn:
            if self._reusable(conn, schema):
                try:
                    self._empty(conn, schema)
                    self._free.append(schema)
                    return
                except psycopg.errors.LockNotAvailable:
                    pass
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    def close(self) -> None:
        with admin() as conn:
            for schema in self._free:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        self._free.clear()

    def _reusable(self, conn: psycopg.Connection[Any], schema: str) -> bool:
        from projections.feeding import PROJECTION_LOCK

        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid"
                            " AND objid = hashtext(%s)::oid", (PROJECTION_LOCK, schema)).fetchone()[0]
        if held:
            return False
        layout = self._layout_of(conn, schema)
        if layout is None:
            return False
        if self._layout is None:
            self._layout = self._fresh_layout(conn)
        return layout == self._layout

    def _layout_of(self, conn: psycopg.Connection[Any], schema: str) -> str | None:
        return conn.execute(
            "SELECT string_agg(item, ';' ORDER BY item) FROM ("
            " SELECT table_name || '.' || column_name || ':' || data_type AS item FROM information_schema.columns"
            " WHERE table_schema = %s UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = %s) items",
            (schema, schema)).fetchone()[0]

    def _fresh_layout(self, conn: psycopg.Connection[Any]) -> str | None:
        """What a fresh runtime creates, learnt once a session from a runtime built on a new schema."""
        schema = self.take()
        seed_keys(self._data_dir, self._pems)
        settings = Settings(data_dir=str(self._data_dir), database_url=f"{POSTGRES_URL}?schema={schema}",
                            password_profile="CHEAPEST", **LIMITS_OFF)
        build_runtime(settings, start_projector=False, start_workers=False).close()
        layout = self._layout_of(conn, schema)
        self._empty(conn, schema)
        self._free.append(schema)
        return layout

    def _empty(self, conn: psycopg.Connection[Any], schema: str) -> None:
        """DELETE rather than TRUNCATE: a test leaves a few rows, and TRUNCATE makes every table anew."""
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)).fetchall()]
        sequences = [row[0] for row in conn.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = %s", (schema,)).fetchall()]
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '2s'")
            for table in tables:
                conn.execute(f'DELETE FROM "{schema}"."{table}"')
            for sequence in sequences:
                conn.execute("SELECT setval(%s, 1, false)", (f'"{schema}"."{sequence}"',))


@pytest.fixture(scope="session")
def schema_pool(tmp_path_factory: pytest.TempPathFactory, signing_pems: dict[str, bytes]) -> Iterator[SchemaPool]:
    pool = SchemaPool(tmp_path_factory.mktemp("fresh-layout") / "var", signing_pems)
    yield pool
    pool.close()


@pytest.fixture
def database_url(backend: str, tmp_path: Path, schema_pool: SchemaPool) -> Iterator[str | None]:
    """None for the embedded SQLite default; a throwaway PostgreSQL schema otherwise (empty, maybe reused)."""
    if backend == "sqlite":
        yield None
        return
    schema = schema_pool.take()
    yield f"{POSTGRES_URL}?schema={schema}"
    schema_pool.give_back(schema)


@pytest.fixture(scope="session")
def signing_pems() -> dict[str, bytes]:
    """RSA-4096 takes about a second to generate: once per test session, copied into each data dir."""
    from keys.signing import generate_ed25519_private_pem, generate_rsa_private_pem

    return {"rsa-4096.pem": generate_rsa_private_pem(), "ed25519.pem": generate_ed25519_private_pem()}


def seed_keys(data_dir: Path, pems: dict[str, bytes]) -> None:
    keys_dir = data_dir / "keys"
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for name, pem in pems.items():
        path = keys_dir / name
        path.write_bytes(pem)
        path.chmod(0o600)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None, signing_pems: dict[str, bytes]) -> Settings:
    seed_keys(tmp_path / "var", signing_pems)
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url, consistency_timeout=10.0,
                    password_profile="CHEAPEST", **LIMITS_OFF)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(settings: Settings, clock: FakeClock) -> Iterator[Runtime]:
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    runtime.close()


_APPS: list[LimitedApp] = []
"""The test process's one app: building one (about a hundred handlers) costs more than most tests."""


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient[Any]]:
    """A client of the test process's app, serving this test's runtime."""
    if not _APPS:
        _APPS.append(create_app(runtime))
    app = _APPS[0]
    app.serve(runtime)
    app.get_logger = app.logging_config.configure()  # its log handlers write to this test's stderr
    with TestClient(app=app) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(client: TestClient[Any], email: str, password: str = "secret123") -> str:
    """Register an account and return its token."""
    response = client.post("/api/auth/register", json={"email": email, "password": password, "display_name": email})
    assert response.status_code == 201, response.text
    return response.json()["data"]["token"]


def create_product(client: TestClient[Any], token: str, name: str = "My App", **fields: Any) -> dict[str, Any]:
    response = client.post("/api/products", json={"name": name, **fields}, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def create_license(client: TestClient[Any], token: str, product_id: str, **fields: Any) -> dict[str, Any]:
    body = {"product_id": product_id, "type": "subscription", "max_uses": 1, "hwid_locked": True, **fields}
    response = client.post("/api/licenses", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return response.json()["data"]


@pytest.fixture
def admin_token(client: TestClient[Any]) -> str:
    """The first account on an empty server: the admin."""
    return register(client, "admin@example.com")


@pytest.fixture
def vendor_token(client: TestClient[Any], admin_token: str) -> str:
    """A second account: an ordinary vendor."""
    return register(client, "vendor@example.com")


def call_records(store: Any, after: int = 0, limit: int = 10_000) -> list[tuple[int, Any]]:
    """The call log's records past `after`, as (position, CallRecord), read as its followers read them."""
    from projections.call_rows import StoredCall

    return [(call.position, call.record()) for call in map(StoredCall._make, store.rows(after, limit))]


T = TypeVar("T")


def eventually(condition: Callable[[], T], what: object = "", seconds: float = 30, pause: float = 0.05) -> T:
    """`condition()`'s first truthy answer, asked every `pause` seconds; fails with `what` (called, if it can be)
    once `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(pause)
    return found


def settle(runtime: Runtime) -> None:
    """Wait until the read models have seen everything written so far."""
    runtime.projector.wait(runtime.ledger.position(), timeout=10)


@contextmanager
def calling_from(client: TestClient[Any], ip: str) -> Iterator[TestClient[Any]]:
    """The test client's requests, for the duration, as if sent from `ip` (Litestar's own says `testclient`)."""
    app = client.app

    async def from_ip(scope: Any, receive: Any, send: Any) -> None:
        await app({**scope, "client": (ip, 50000)}, receive, send)

    client.app = from_ip  # type: ignore[assignment]
    try:
        yield client
    finally:
        client.app = app
