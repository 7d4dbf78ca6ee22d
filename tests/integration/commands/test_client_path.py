"""The client path's shortcuts stay exact: the client view (blocking and async) and group-committed call records."""

import asyncio
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from adapters.call_log import CallLog, SQLiteCallStore
from domain.account import Actor
from domain.blacklist import BlacklistType, Severity, blacklist_entry_id
from domain.client_call import ClientRequest, record_call
from domain.refusals import BlacklistedError
from keyledger.wiring import build_ledger, eventsourcing_env
from tests.conftest import call_records


def test_the_gate_decides_first_from_memory_only_where_the_call_log_checks_what_changed(runtime):
    from commands.client_gate import Strategy

    checks = Strategy.DECIDE_THEN_CHECK if runtime.settings.is_postgres else Strategy.READ_THEN_DECIDE
    assert runtime.gate.strategy is checks


def test_an_entry_added_by_another_process_blocks_the_very_next_call(runtime, settings, licensed, clock):
    runtime.ledger.validate_license(licensed())  # the index is warm
    other_process = build_ledger(eventsourcing_env(settings), runtime.ledger.master_key)
    other_process.add_blacklist_entry(BlacklistType.IP, "10.0.0.1", "abuse", Severity.HIGH, None, None, clock())

    with pytest.raises(BlacklistedError):
        runtime.ledger.validate_license(licensed())
    # Check removal is seen just as fast, and an expired entry stops blocking.
    other_process.remove_blacklist_entry(blacklist_entry_id(BlacklistType.IP, "10.0.0.1"), clock())
    assert runtime.ledger.validate_license(licensed())
    runtime.ledger.add_blacklist_entry(BlacklistType.HWID, "pc", "x", Severity.LOW, clock() + timedelta(seconds=1),
                                       None, clock())
    clock.advance(seconds=1)
    assert runtime.ledger.validate_license(licensed())
    other_process.close()


def test_concurrent_validations_are_all_recorded_in_the_call_log_not_the_event_store(runtime, licensed):
    events_before, calls_before = runtime.ledger.position(), runtime.ledger.calls.head()
    barrier = threading.Barrier(16)

    def validate(n):
        barrier.wait()
        runtime.ledger.validate_license(licensed(hwid=f"pc-{n}"))

    threads = [threading.Thread(target=validate, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runtime.ledger.calls.head() - calls_before == 16
    assert runtime.ledger.position() == events_before  # the client view's head stays put


def test_async_validations_share_commits_and_each_is_recorded(runtime, licensed):
    calls_before = runtime.ledger.calls.head()

    async def validate_many():
        return await asyncio.gather(*(runtime.gate.validate(licensed(hwid=f"pc-{n}"))
                                      for n in range(40)))

    granted = asyncio.run(validate_many())
    assert len(granted) == 40 and all(g.license.id == granted[0].license.id for g in granted)
    records = call_records(runtime.ledger.calls.store, calls_before, 100)
    assert sorted(record.hwid for _, record in records) == sorted(f"pc-{n}" for n in range(40))
    assert all(record.action == "validation" and record.error_code is None for _, record in records)


def test_async_validation_sees_a_change_made_by_another_process_on_the_very_next_call(runtime, settings, licensed,
                                                                                       clock):
    from domain.license import LicenseStatus
    from domain.refusals import LicenseSuspendedError

    other_process = build_ledger(eventsourcing_env(settings), runtime.ledger.master_key)

    async def scenario():
        granted = await asyncio.gather(*(runtime.gate.validate(licensed()) for _ in range(20)))
        owner = Actor(granted[0].license.owner_id, is_admin=True)
        other_process.update_license(owner, granted[0].license.id, clock(), status=LicenseStatus.SUSPENDED)
        outcomes = await asyncio.gather(*(runtime.gate.validate(licensed()) for _ in range(20)),
                                        return_exceptions=True)
        assert all(isinstance(outcome, LicenseSuspendedError) for outcome in outcomes)

    asyncio.run(scenario())
    other_process.close()


class Stalling(SQLiteCallStore):
    """A real call store whose first commit waits for a signal, so that others queue behind it."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def append(self, rows):
        self.batches.append([row[7] for row in rows])  # the hwid column
        if len(self.batches) == 1:
            self.release.wait(5)
        super().append(rows)


def a_call(hwid):
    return record_call("validation", ClientRequest("K", None, hwid, None, None, datetime.now(timezone.utc)), None)


def test_a_failed_group_commit_reaches_every_caller():
    store = SQLiteCallStore(":memory:")
    store.close()  # every commit now fails
    log = CallLog(store)
    with pytest.raises(sqlite3.ProgrammingError):
        log.append(a_call("a"))


def test_group_commit_batches_what_arrives_during_a_commit():
    store = Stalling()
    log = CallLog(store)
    first = threading.Thread(target=log.append, args=(a_call("a"),))
    first.start()
    while not store.batches:
        time.sleep(0.001)
    followers = [threading.Thread(target=log.append, args=(a_call(name),)) for name in "bcd"]
    for thread in followers:
        thread.start()
    while len(log._writer._pending) < 3:  # all three are queued behind the running commit
        time.sleep(0.001)
    store.release.set()
    for thread in [first, *followers]:
        thread.join()
    # Check the three that queued behind the first commit shared one transaction, and all four are kept.
    assert store.batches[0] == ["a"] and sorted(store.batches[1]) == ["b", "c", "d"]
    assert sorted(record.hwid for _, record in call_records(store, 0, 10)) == ["a", "b", "c", "d"]


def test_a_suspension_by_another_process_reaches_the_cached_license_at_once(runtime, settings, licensed, clock):
    from domain.license import LicenseStatus
    from domain.refusals import LicenseSuspendedError

    granted = runtime.ledger.validate_license(licensed())  # the license is now cached in this process
    other_process = build_ledger(eventsourcing_env(settings), runtime.ledger.master_key)
    owner = Actor(granted.license.owner_id, is_admin=True)
    other_process.update_license(owner, granted.license.id, clock(), status=LicenseStatus.SUSPENDED)

    with pytest.raises(LicenseSuspendedError):
        runtime.ledger.validate_license(licensed())
    other_process.update_license(owner, granted.license.id, clock(), status=LicenseStatus.ACTIVE)
    assert runtime.ledger.validate_license(licensed()).license.is_suspended is False
    other_process.close()


@pytest.mark.postgres
def test_the_postgres_call_log_reconnects_after_the_server_dropped_its_connection(monkeypatch):
    import psycopg

    from adapters import call_log
    from tests.conftest import POSTGRES_URL, throwaway_schema

    monkeypatch.setattr(call_log, "IDLE_CHECK_SECONDS", 0.0)  # every append counts as after a lull
    with throwaway_schema("kl") as schema:
        store = call_log.PostgresCallStore("dbname=test host=127.0.0.1 port=5432 user=postgres", schema)
        log = CallLog(store)
        try:
            log.append(a_call("before"))
            with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:  # as a server restart or idle timeout would
                admin.execute("SELECT pg_terminate_backend(%s)", (store._writer.info.backend_pid,))

            log.append(a_call("after"))

            # Check the record after the drop was kept, on a new connection, without a failed call in between.
            assert [record.hwid for _, record in call_records(store, 0, 10)] == ["before", "after"]
        finally:
            log.close()


@pytest.mark.postgres
def test_a_postgres_batch_keeps_its_rows_in_order_with_their_empty_fields():
    from adapters import call_log
    from tests.conftest import throwaway_schema

    with throwaway_schema("kl") as schema:
        store = call_log.PostgresCallStore("dbname=test host=127.0.0.1 port=5432 user=postgres", schema)
        try:
            refused = record_call("validation", ClientRequest("K", None, None, None, None, datetime.now(timezone.utc)),
                                  None, "LICENSE_NOT_FOUND", None, details={"message": "no such key"})
            store.append([call_log.to_row(a_call(name)) for name in "xyz"] + [call_log.to_row(refused)])
            asyncio.run(store.link.append([call_log.to_row(a_call("w"))]))

            records = [record for _, record in call_records(store, 0, 10)]
            # Check one statement per batch kept the batch's order, the NULLs and the details.
            assert [record.hwid for record in records] == ["x", "y", "z", None, "w"]
            assert records[3].error_code == "LICENSE_NOT_FOUND" and records[3].details == {"message": "no such key"}
            assert records[3].ip is None and records[3].license_id is None
        finally:
            store.close()
