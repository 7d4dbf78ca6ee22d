"""Processes starting together on a fresh PostgreSQL database: every one comes up.

`keyledger serve --workers 2` (and `keyledger project` beside it) create the same tables at the
same moment; PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against itself (two creators
can both pass the check and one then fails on pg_type's unique index).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from keyledger import wiring
from keyledger.settings import Settings
from keyledger.wiring import build_runtime
from tests.conftest import POSTGRES_URL, seed_keys, throwaway_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[str]:
    """An empty schema of its own, dropped afterwards."""
    with throwaway_schema("kl_race") as name:
        yield name


@pytest.fixture
def settings(tmp_path, signing_pems, schema) -> Settings:
    seed_keys(tmp_path / "var", signing_pems)
    return Settings(data_dir=str(tmp_path / "var"), database_url=f"{POSTGRES_URL}?schema={schema}",
                    password_profile="CHEAPEST")


def test_runtimes_built_at_once_on_an_empty_schema_all_start(settings) -> None:
    starting = threading.Barrier(4)
    runtimes, failures = [], []

    def start() -> None:
        starting.wait()
        try:
            runtimes.append(build_runtime(settings, start_projector=False, start_workers=False))
        except Exception as failure:  # what a crashed API process would have died of
            failures.append(failure)

    threads = [threading.Thread(target=start) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        assert len(runtimes) == 4
    finally:
        for runtime in runtimes:
            runtime.close()


def test_a_runtime_creates_every_table_while_it_holds_the_schema_lock(settings, schema, monkeypatch) -> None:
    def tables() -> set[str]:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            return {row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))}

    at_release: list[set[str]] = []
    held = wiring.schema_lock

    @contextmanager
    def noting(settings: Settings) -> Iterator[None]:
        with held(settings):
            yield
            at_release.append(tables())

    monkeypatch.setattr(wiring, "schema_lock", noting)
    runtime = build_runtime(settings, start_projector=False, start_workers=False)
    try:
        # A table created after the lock is let go races the same CREATE in a process starting beside it.
        assert at_release and tables() == at_release[0]
    finally:
        runtime.close()
