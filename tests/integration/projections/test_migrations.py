"""Schema migrations: each step runs once, from `keyledger migrate` or any process's start, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from keyledger.cli import main, migrate_schema
from keyledger.wiring import build_read_store, build_runtime
from projections.db import ReadStore
from projections.migrations import MIGRATIONS, Migration, applied_versions, migrate
from tests.conftest import FakeClock


def table_names(store: ReadStore) -> set[str]:
    if store.dialect == "sqlite":
        rows = store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = store.query("SELECT table_name AS name FROM information_schema.tables"
                           " WHERE table_schema = current_schema()")
    return {row["name"] for row in rows}


def leave_an_old_license_logs_table(store: ReadStore) -> None:
    """What a version before license_changes left behind: its table and its position."""
    with store.transaction() as cursor:
        cursor.execute("CREATE TABLE license_logs (id TEXT PRIMARY KEY, license_id TEXT NOT NULL)")
        cursor.execute("CREATE TABLE IF NOT EXISTS projection_tracking (projection TEXT NOT NULL,"
                       " application_name TEXT NOT NULL, notification_id BIGINT NOT NULL,"
                       " PRIMARY KEY (projection, application_name))")
        cursor.execute("INSERT INTO projection_tracking VALUES ('license_logs', 'KeyLedger', 42)")


def test_keyledger_migrate_runs_the_license_logs_step_once(settings, monkeypatch, capsys):
    store = build_read_store(settings)
    try:
        leave_an_old_license_logs_table(store)
        monkeypatch.setattr("keyledger.cli.Settings.from_env", lambda: settings)

        assert main(["migrate"]) == 0

        # Check the old table and its position are gone, the step is recorded, and the read models exist.
        assert "migration 1: license_logs" in capsys.readouterr().out
        assert "license_logs" not in table_names(store)
        assert {"license_changes", "licenses", "schema_migrations"} <= table_names(store)
        assert store.query("SELECT * FROM projection_tracking WHERE projection = 'license_logs'") == []
        assert applied_versions(store) == [step.version for step in MIGRATIONS]

        # Check a second run changes nothing: a table of that name made since is left alone.
        leave_an_old_license_logs_table(store)
        assert migrate_schema(settings) == []
        assert "license_logs" in table_names(store)
    finally:
        store.close()


def test_a_starting_process_migrates_a_store_left_by_an_older_version(settings):
    store = build_read_store(settings)
    try:
        leave_an_old_license_logs_table(store)

        build_runtime(settings, clock=FakeClock(), start_projector=False, start_workers=False).close()

        assert "license_logs" not in table_names(store)
        assert applied_versions(store) == [step.version for step in MIGRATIONS]
    finally:
        store.close()


def test_processes_migrating_at_once_run_each_step_once(settings):
    steps = [Migration(1, "a probe table", ("CREATE TABLE IF NOT EXISTS migration_probe (n INTEGER NOT NULL)",)),
             Migration(2, "a row in it", ("INSERT INTO migration_probe VALUES (1)",))]
    stores = [build_read_store(settings) for _ in range(4)]
    start, ran, errors = threading.Barrier(len(stores)), [], []

    def run(store: ReadStore) -> None:
        start.wait()
        try:
            ran.extend(step.version for step in migrate(store, FakeClock()(), steps))
        except Exception as error:  # noqa: BLE001 - the test reports any failure of a racing process
            errors.append(error)

    threads = [threading.Thread(target=run, args=(store,)) for store in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        # Check nobody failed, each step ran in exactly one process, and the row was inserted once.
        assert errors == []
        assert sorted(ran) == [1, 2]
        rows: list[Any] = stores[0].query("SELECT COUNT(*) AS n FROM migration_probe")
        assert rows[0]["n"] == 1
    finally:
        for store in stores:
            store.close()


def index_names(store: ReadStore) -> set[str]:
    if store.dialect == "sqlite":
        rows = store.query("SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = store.query("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()")
    return {row["name"] for row in rows}


def test_the_audit_links_fingerprint_index_an_older_version_made_is_dropped_and_its_links_kept(settings):
    store = build_read_store(settings)
    try:
        with store.transaction() as cursor:  # what the audit chain's DDL made before step 2
            cursor.execute("DROP TABLE IF EXISTS audit_links")  # a schema the pool reused holds today's
            cursor.execute("CREATE TABLE audit_links (chain TEXT NOT NULL, position BIGINT NOT NULL,"
                           " record_id TEXT NOT NULL, version BIGINT NOT NULL, fingerprint TEXT NOT NULL,"
                           " hash TEXT NOT NULL, PRIMARY KEY (chain, position))")
            cursor.execute("CREATE INDEX audit_links_fingerprint ON audit_links (chain, fingerprint)")
            cursor.execute("INSERT INTO audit_links VALUES ('events', 1, 'r', 1, 'f', 'h')")

        build_runtime(settings, clock=FakeClock(), start_projector=False, start_workers=False).close()

        assert "audit_links_fingerprint" not in index_names(store)
        assert "audit_links_record" in index_names(store)  # the chain's own DDL still makes the other
        assert store.query("SELECT position, hash FROM audit_links") == [{"position": 1, "hash": "h"}]
    finally:
        store.close()
