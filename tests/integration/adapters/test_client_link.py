"""The client link (PostgreSQL): head reads and call-log appends due together share one statement, and lose nothing."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone

import psycopg
import pytest

from adapters.call_log import to_row
from domain.account import Actor
from domain.client_call import ClientRequest, record_call
from tests.conftest import POSTGRES_URL, call_records

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> str:
    return "postgres"


def a_row(hwid: str) -> tuple:
    return to_row(record_call("validation", ClientRequest("K", None, hwid, None, None, datetime.now(timezone.utc)),
                              None))


class TableHeld:
    """Another session holding client_calls, so the link's next statement waits on it (a slow commit)."""

    def __init__(self, schema: str) -> None:
        self.conn = psycopg.connect(POSTGRES_URL, options=f"-c search_path={schema}")
        self.conn.execute("LOCK TABLE client_calls IN ACCESS EXCLUSIVE MODE")
        self.pid = self.conn.info.backend_pid

    async def waited_on_by(self, link, count: int, besides: int | None = None) -> None:
        """Returns once `count` of the link's connections (`besides` not counted) wait for the table: its
        statements have gone out, however slow the machine."""
        deadline = time.monotonic() + 30
        while await asyncio.to_thread(self._waiting, backend_pids(link) - {besides}) < count:
            assert time.monotonic() < deadline, f"fewer than {count} statements came to wait for the table"
            await asyncio.sleep(0.01)

    def _waiting(self, pids: set[int]) -> int:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
                                 " AND pid = ANY(%s)", (self.pid, list(pids))).fetchone()[0]

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def schema_of(runtime) -> str:
    return runtime.settings.database_url.split("schema=")[1]


def rows_by_transaction(runtime) -> list[list[str]]:
    """The call log's hwids grouped by the transaction that inserted them, in position order."""
    with psycopg.connect(POSTGRES_URL, options=f"-c search_path={schema_of(runtime)}") as conn:
        rows = conn.execute("SELECT xmin::text, hwid FROM client_calls ORDER BY position").fetchall()
    groups: dict[str, list[str]] = {}
    for xmin, hwid in rows:
        groups.setdefault(xmin, []).append(hwid)
    return list(groups.values())


def test_what_is_due_while_a_round_trip_runs_shares_the_next_one_and_reads_a_fresh_head(runtime, clock):
    link = runtime.ledger.calls.store.link

    async def scenario():
        await link.append([a_row("warm")])  # the loop's connection is open
        held = TableHeld(schema_of(runtime))
        first = asyncio.ensure_future(link.append([a_row("a")]))
        await held.waited_on_by(link, 1)  # the first statement waits for the table
        # A write acknowledged while it waits: a head read asked for after it must include it.
        written = await asyncio.to_thread(runtime.ledger.register_account, "v@example.com", "secret123", "V", clock())
        position = await asyncio.to_thread(runtime.ledger.position)
        followers = [asyncio.ensure_future(link.append([a_row(name)])) for name in "bcd"]
        head = asyncio.ensure_future(link.head())
        await held.waited_on_by(link, 2)  # so does the followers' statement, on the second connection
        held.release()
        await asyncio.gather(first, *followers)
        return written, position, await head

    _, position, head = asyncio.run(scenario())
    # Check the three appends that came during the first statement went in one statement (one transaction),
    # on the second connection (which of the two waiting statements commits first is theirs to race)...
    assert sorted(rows_by_transaction(runtime)) == [["a"], ["b", "c", "d"], ["warm"]]
    # ...and the head read that rode along saw the write acknowledged before it was asked for.
    assert head >= position > 0


def backend_pids(link) -> set[int]:
    return {lane.connection.info.backend_pid for loop_link in link._loops.values() for lane in loop_link.lanes
            if lane.connection is not None}


def test_a_statement_whose_connection_the_server_drops_goes_out_again_on_a_new_one(runtime):
    link = runtime.ledger.calls.store.link

    async def scenario():
        await link.append([a_row("warm")])
        (backend_pid,) = backend_pids(link)
        held = TableHeld(schema_of(runtime))
        stuck = asyncio.ensure_future(link.append([a_row("lost"), a_row("lost too")]))
        await held.waited_on_by(link, 1)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:  # the server drops the link's connection
            admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
        await held.waited_on_by(link, 1, besides=backend_pid)  # sent again, on a new connection
        held.release()
        outcome = await asyncio.gather(stuck, return_exceptions=True)
        await link.append([a_row("after")])
        return outcome[0], backend_pid, backend_pids(link)

    outcome, dropped, now = asyncio.run(scenario())
    # Check the callers of the dropped statement were answered from its second sending, on a new connection...
    assert outcome is None and dropped not in now
    # ...which kept their records, in one transaction, before the next statement's.
    assert rows_by_transaction(runtime) == [["warm"], ["lost", "lost too"], ["after"]]


def test_a_connection_the_server_drops_while_idle_is_replaced_before_the_next_statement(runtime):
    link = runtime.ledger.calls.store.link

    async def scenario():
        await link.append([a_row("before")])
        (dropped,) = backend_pids(link)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:  # a server restart, an idle timeout
            admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
        deadline = time.monotonic() + 10
        while backend_pids(link) == {dropped} and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # no statement in flight: only the connection's socket hears of it
        noticed = backend_pids(link) == set()
        await link.append([a_row("after")])
        return dropped, noticed, backend_pids(link)

    dropped, noticed, now = asyncio.run(scenario())
    # Check the link let the dead connection go by itself, before anything was sent on it...
    assert noticed
    # ...and the record after the drop was kept, on a new connection, with no failed call in between.
    assert rows_by_transaction(runtime) == [["before"], ["after"]]
    assert dropped not in now and len(now) == 1


def test_calls_due_while_a_statement_is_in_flight_go_out_on_a_second_connection_and_no_third(runtime):
    link = runtime.ledger.calls.store.link

    async def scenario():
        await link.append([a_row("warm")])
        held = TableHeld(schema_of(runtime))
        first = asyncio.ensure_future(link.append([a_row("a")]))
        await held.waited_on_by(link, 1)  # the first statement waits for the table
        second = asyncio.ensure_future(link.append([a_row("b")]))
        await held.waited_on_by(link, 2)  # so does the second, on a connection of its own: not behind the first
        pids_in_flight = backend_pids(link)
        third = [asyncio.ensure_future(link.append([a_row(name)])) for name in "cd"]
        head = asyncio.ensure_future(link.head())  # needs no table, yet waits: both connections are busy
        await asyncio.sleep(0.1)
        waited = not head.done()
        held.release()
        await asyncio.gather(first, second, *third)
        return pids_in_flight, waited, await head

    pids_in_flight, head_waited, head = asyncio.run(scenario())
    assert len(pids_in_flight) == 2  # two statements in flight at once, one per connection...
    assert head_waited and head >= 0  # ...and never a third: what comes next waits for one of them
    assert sorted(rows_by_transaction(runtime)) == [["a"], ["b"], ["c", "d"], ["warm"]]


def test_event_loops_in_different_threads_each_get_their_own_connection(runtime):
    link = runtime.ledger.calls.store.link
    errors: list[BaseException] = []

    def loop_appending(name: str) -> None:
        async def appends():
            for n in range(20):
                await asyncio.gather(link.append([a_row(f"{name}{n}")]), link.head())

        try:
            asyncio.run(appends())
        except BaseException as error:  # the assertion below reports it
            errors.append(error)

    threads = [threading.Thread(target=loop_appending, args=(name,)) for name in "xy"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # Check both loops' records were all kept, none mixed into the other loop's statements by mistake.
    assert not errors
    kept = sorted(hwid for group in rows_by_transaction(runtime) for hwid in group)
    assert kept == sorted(f"{name}{n}" for name in "xy" for n in range(20))


def test_a_row_is_appended_unless_an_event_about_one_of_its_ids_lies_past_its_position(runtime, clock):
    link = runtime.ledger.calls.store.link
    ledger = runtime.ledger
    unrelated = ledger.register_account("w@example.com", "secret123", "W", clock()).id
    position = ledger.position()
    account = ledger.register_account("v@example.com", "secret123", "V", clock())  # an event past `position`

    async def scenario():
        return await asyncio.gather(
            link.append_unless_changed(a_row("changed"), position, [unrelated, account.id]),
            link.append_unless_changed(a_row("unchanged"), position, [unrelated]),
            link.append_unless_changed(a_row("caught-up"), ledger.position(), [account.id]),
            link.append([a_row("plain")]))

    changed, unchanged, caught_up, _ = asyncio.run(scenario())
    head = ledger.position()
    # Check only the row whose id has an event past its position was left out, and each heard the head...
    assert changed == (False, head) and unchanged == (True, head) and caught_up == (True, head)
    # ...all in one statement (one transaction).
    assert [sorted(group) for group in rows_by_transaction(runtime)] == [["caught-up", "plain", "unchanged"]]


async def answered(gate, call, answer):
    """As the API answers a validation (api/controllers/client.py): built while the record commits."""
    decision = await gate.admit(call)
    while True:
        built = await answer(decision.granted)
        if (decision := await gate.record(decision)) is None:
            return built


@pytest.mark.parametrize("blocked", ["10.0.0.1", "10.0.0.0/31"])  # the address itself, or a network holding it
def test_a_call_decided_from_memory_is_decided_again_when_a_blacklist_entry_appeared(runtime, settings, licensed,
                                                                                        clock, blocked):
    from domain.blacklist import BlacklistType, Severity
    from domain.refusals import BlacklistedError
    from keyledger.wiring import build_ledger, eventsourcing_env

    other_process = build_ledger(eventsourcing_env(settings), runtime.ledger.master_key)

    built = []

    async def answer(granted):  # as the API builds its signed answer, while the record commits
        built.append(granted)
        return "signed answer"

    async def scenario():
        await runtime.gate.validate(licensed())  # license and product now in memory
        other_process.add_blacklist_entry(BlacklistType.IP, blocked, "abuse", Severity.HIGH, None, None, clock())
        refused = await asyncio.gather(*(answered(runtime.gate, licensed(), answer) for _ in range(5)),
                                       return_exceptions=True)
        allowed = await answered(runtime.gate, licensed(ip="10.0.0.3"), answer)
        return refused, allowed

    try:
        refused, allowed = asyncio.run(scenario())
    finally:
        other_process.close()
    # Check an entry this process had never heard of blocks the very next calls, though memory said "allowed"
    # (and their answers were already built from it)...
    assert all(isinstance(outcome, BlacklistedError) for outcome in refused) and allowed == "signed answer"
    assert len(built) == 6
    # ...and each call left exactly one record: the refusal it was answered with, never the stale "allowed".
    records = [record for _, record in call_records(runtime.ledger.calls.store, 0, 100)]
    assert [record.error_code for record in records] == [None] + ["BLACKLISTED"] * 5 + [None]


def test_writes_about_other_products_leave_calls_decided_from_memory_and_the_view_follows(runtime, licensed, clock):
    from domain.license import LicenseTerms, LicenseType
    from domain.product import SigningAlgorithm

    ledger = runtime.ledger
    granted = asyncio.run(runtime.gate.validate(licensed()))
    actor = Actor(granted.license.owner_id, is_admin=True)
    other_product = ledger.create_product(actor, "Other", "", SigningAlgorithm.ED25519, clock()).id
    link = ledger.calls.store.link
    plain_appends = []
    real_append = link.append

    async def append(rows):  # a call that had to decide again appends plainly
        plain_appends.append(rows)
        await real_append(rows)

    async def scenario():
        link.append = append
        for _ in range(3):
            await asyncio.to_thread(ledger.issue_licenses, actor, other_product, 1,
                                    LicenseTerms(license_type=LicenseType.LIFETIME, hwid_locked=False), clock())
            await runtime.gate.validate(licensed())
        deadline = time.monotonic() + 30  # the catch-up nobody waits for (a loaded machine takes its time)
        while ledger.view.position < ledger.position() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    # Check the other product's events made no call decide again, and the view still came up to the head.
    assert plain_appends == []
    assert ledger.view.position == ledger.position()
