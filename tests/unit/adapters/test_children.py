"""Signatures and call records made in child processes (adapters/children.py): the same answers as in threads,
durable once acknowledged, and a child that dies fails only what it held, then comes back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from uuid import uuid4

import msgspec
import pytest

from adapters.call_log import CallLog, SQLiteCallStore
from adapters.children import FRAME, ChildGoneError, ChildLink
from adapters.signer import AnswerSigner
from domain.client_call import CallRecord
from keys.signing import sign, signing_key_from_pem, verify

SIGNING_CHILD = "keys.signing_child:handler"
WRITER_CHILD = "adapters.call_log:committer"
needs_a_spare_core = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="signing children need 2 cores")


@pytest.fixture(scope="module")
def ed25519(signing_pems):
    return signing_key_from_pem(signing_pems["ed25519.pem"])


def record(n: int) -> CallRecord:
    return CallRecord("validation", uuid4(), uuid4(), None, None, "203.0.113.7", f"device-{n}", "tests", {"n": n},
                      datetime(2026, 12, 4, 8, 0, n % 60, tzinfo=timezone.utc))


@needs_a_spare_core
def test_a_signing_child_signs_each_message_with_the_key_it_was_given(ed25519, signing_pems):
    other = signing_key_from_pem(signing_pems["ed25519.pem"])  # the same key, another object: sent once more
    signer = AnswerSigner(sign, 1, SIGNING_CHILD)
    messages = [f"answer {n}".encode() for n in range(50)]

    async def sign_all():
        return await asyncio.gather(*(signer.sign(ed25519 if n % 2 else other, message)
                                      for n, message in enumerate(messages)))

    try:
        signatures = asyncio.run(sign_all())
    finally:
        signer.close()

    public = ed25519.private_key.public_key()
    assert all(verify(public, message, signature) for message, signature in zip(messages, signatures))
    assert signatures == [sign(ed25519.private_key, message) for message in messages]  # Ed25519 is deterministic


@needs_a_spare_core
def test_a_signing_child_killed_fails_what_it_held_and_the_next_signature_starts_another(ed25519):
    signer = AnswerSigner(sign, 1, SIGNING_CHILD)

    async def scenario():
        assert verify(ed25519.private_key.public_key(), b"first", await signer.sign(ed25519, b"first"))
        child = signer._child
        assert child is not None and child.pid is not None
        first_pid = child.pid
        os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(ChildGoneError):
            await asyncio.wait_for(signer.sign(ed25519, b"while it dies"), 10)
        again = await signer.sign(ed25519, b"after")
        return first_pid, child.pid, again

    try:
        first_pid, second_pid, signature = asyncio.run(scenario())
    finally:
        signer.close()

    assert second_pid not in (None, first_pid)
    assert verify(ed25519.private_key.public_key(), b"after", signature)  # the new child was given the key again


def test_records_a_writer_child_acknowledged_are_in_the_log(tmp_path):
    log = CallLog(SQLiteCallStore(str(tmp_path / "calls.sqlite3")), child=WRITER_CHILD)

    async def append_all():
        await asyncio.gather(*(log.append_soon(record(n)) for n in range(40)))
        return log._child.pid if log._child else None

    try:
        pid = asyncio.run(append_all())
        # Check a reader that is not the writer sees every acknowledged record, in the order they were queued.
        rows = SQLiteCallStore(str(tmp_path / "calls.sqlite3")).rows(0, 100)
    finally:
        log.close()

    assert pid is not None and pid != os.getpid()
    assert [row[8] for row in rows] == [f"device-{n}" for n in range(40)]


def test_a_writer_child_killed_fails_its_records_and_the_next_one_starts_another(tmp_path):
    path = str(tmp_path / "calls.sqlite3")
    log = CallLog(SQLiteCallStore(path), child=WRITER_CHILD)

    async def scenario():
        await log.append_soon(record(1))
        assert log._child is not None and log._child.pid is not None
        first_pid = log._child.pid
        os.kill(first_pid, signal.SIGKILL)
        with pytest.raises(ChildGoneError):
            await asyncio.wait_for(log.append_soon(record(2)), 10)
        await log.append_soon(record(3))
        return first_pid, log._child.pid

    try:
        first_pid, second_pid = asyncio.run(scenario())
        devices = [row[8] for row in SQLiteCallStore(path).rows(0, 10)]
    finally:
        log.close()

    assert second_pid not in (None, first_pid)
    assert devices[0] == "device-1" and devices[-1] == "device-3"  # record 2's fate was never acknowledged


def test_a_batch_the_child_refuses_fails_its_callers_and_the_child_goes_on():
    link = ChildLink(SIGNING_CHILD)

    async def scenario():
        with pytest.raises(ChildGoneError, match="KeyError"):
            await link.submit([7, b"no key 7 was given"])
        return await asyncio.gather(link.submit(["key", 0, bytes(32)]), return_exceptions=True)

    try:
        registered = asyncio.run(scenario())
    finally:
        link.close()

    assert registered == [None]


def test_a_closed_link_stops_its_child():
    link = ChildLink(SIGNING_CHILD)

    async def scenario():
        await link.submit(["key", 0, bytes(32)])
        return link.pid

    pid = asyncio.run(scenario())
    link.close()

    assert pid is not None and not os.path.exists(f"/proc/{pid}")  # stopped and reaped


def test_a_child_outlasts_a_signal_to_its_process_group_and_ends_with_its_link():
    # Ctrl-C or a SIGTERM to the group is for the API process, which may still be answering through the child.
    link = ChildLink(SIGNING_CHILD)

    async def scenario():
        await link.submit(["key", 0, bytes(32)])
        for number in (signal.SIGINT, signal.SIGTERM):
            os.kill(link.pid, number)
        await asyncio.sleep(0.3)
        return link.pid, await link.submit([0, b"still here"])

    try:
        pid, signature = asyncio.run(scenario())
    finally:
        link.close()

    assert len(signature) == 88
    assert not os.path.exists(f"/proc/{pid}")


def test_a_child_whose_answers_nobody_reads_any_more_stops_quietly(tmp_path):
    # What a helper does when its API process closes the pipes while a frame is under way.
    frame = msgspec.msgpack.encode([["key", 0, bytes(32)], [0, b"m"]])
    command = [sys.executable, "-m", "adapters.children", SIGNING_CHILD]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    child.stdin.write(FRAME.pack(len(frame)) + frame)
    child.stdin.close()

    assert child.wait(timeout=30) == 0
    assert child.stderr.read() == b""
