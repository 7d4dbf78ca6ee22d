"""The client path's shortcuts stay exact: the blacklist index and group-committed call records."""

import threading

import pytest

from commands.call_log import CallLog
from commands.ledger import Ledger
from domain.account import Actor
from domain.blacklist import BlacklistType, Severity, blacklist_entry_id
from domain.client_call import ClientRequest
from domain.license import LicenseType
from domain.product import SigningAlgorithm
from domain.refusals import BlacklistedError
from keyledger.wiring import eventsourcing_env


@pytest.fixture
def licensed(runtime, clock):
    ledger = runtime.ledger
    actor = Actor(ledger.register_account("c@example.com", "secret123", "C", clock()).id, is_admin=True)
    product = ledger.create_product(actor, "App", "", SigningAlgorithm.ED25519, clock()).id
    ids, _ = ledger.issue_licenses(actor, product, 1, LicenseType.LIFETIME, 1, False, None, {}, clock())
    key = ledger.get_license(actor, ids[0]).key
    return lambda hwid="pc", ip="10.0.0.1": ClientRequest(key, product, hwid, ip, "test", clock())


def test_an_entry_added_by_another_process_blocks_the_very_next_call(runtime, settings, licensed, clock):
    runtime.ledger.validate_license(licensed())  # the index is warm
    other_process = Ledger(eventsourcing_env(settings), runtime.ledger.master_key)
    other_process.add_blacklist_entry(BlacklistType.IP, "10.0.0.1", "abuse", Severity.HIGH, None, None, clock())

    with pytest.raises(BlacklistedError):
        runtime.ledger.validate_license(licensed())
    # Check removal is seen just as fast, and an expired entry stops blocking.
    other_process.remove_blacklist_entry(blacklist_entry_id(BlacklistType.IP, "10.0.0.1"), clock())
    assert runtime.ledger.validate_license(licensed())
    runtime.ledger.add_blacklist_entry(BlacklistType.HWID, "pc", "x", Severity.LOW, clock(), None, clock())
    assert runtime.ledger.validate_license(licensed())
    other_process.close()


def test_concurrent_validations_are_all_recorded(runtime, licensed):
    before = runtime.ledger.position()
    barrier = threading.Barrier(16)

    def validate(n):
        barrier.wait()
        runtime.ledger.validate_license(licensed(hwid=f"pc-{n}"))

    threads = [threading.Thread(target=validate, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runtime.ledger.position() - before == 16


def test_a_failed_group_commit_reaches_every_caller():
    def save(*records):
        raise RuntimeError("disk full")

    log = CallLog(save)
    with pytest.raises(RuntimeError, match="disk full"):
        log.append("record")


def test_group_commit_batches_what_arrives_during_a_commit():
    batches = []
    release = threading.Event()

    def save(*records):
        batches.append(records)
        if len(batches) == 1:
            release.wait(5)

    log = CallLog(save)
    first = threading.Thread(target=log.append, args=("a",))
    first.start()
    while not batches:
        pass
    followers = [threading.Thread(target=log.append, args=(name,)) for name in "bcd"]
    for thread in followers:
        thread.start()
    while len(log._pending) < 3:  # all three are queued behind the running commit
        pass
    release.set()
    for thread in [first, *followers]:
        thread.join()
    # Check the three that queued behind the first commit shared one transaction.
    assert batches[0] == ("a",) and sorted(batches[1]) == ["b", "c", "d"]


def test_a_suspension_by_another_process_reaches_the_cached_license_at_once(runtime, settings, licensed, clock):
    from domain.license import LicenseStatus
    from domain.refusals import LicenseSuspendedError

    granted = runtime.ledger.validate_license(licensed())  # the license is now cached in this process
    other_process = Ledger(eventsourcing_env(settings), runtime.ledger.master_key)
    owner = Actor(granted.license.owner_id, is_admin=True)
    other_process.update_license(owner, granted.license.id, clock(), status=LicenseStatus.SUSPENDED)

    with pytest.raises(LicenseSuspendedError):
        runtime.ledger.validate_license(licensed())
    other_process.update_license(owner, granted.license.id, clock(), status=LicenseStatus.ACTIVE)
    assert runtime.ledger.validate_license(licensed()).license.is_suspended is False
    other_process.close()
