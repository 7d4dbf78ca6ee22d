"""Validations with the helper processes `keyledger serve` runs (decision 0090): answered and recorded as with
threads; a helper killed is replaced by the next call (one killed while holding calls fails only those:
tests/unit/adapters/test_children.py)."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest

from tests.api.test_client import call, verified
from tests.conftest import auth, create_license, create_product, eventually
from tests.e2e.test_serving import children_of

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a signing child needs a core to spare")


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, helper_processes=True)


def helpers() -> set[int]:
    """This process's helper children (adapters/children.py)."""
    return children_of(os.getpid(), b"adapters.children")


def test_validations_made_by_helpers_are_signed_recorded_and_go_on_after_a_helper_is_killed(client, vendor_token,
                                                                                              database_url):
    product = create_product(client, vendor_token, signing_algorithm="ed25519")
    license = create_license(client, vendor_token, product["id"])
    assert call(client, "activate", license).status_code == 200

    first = call(client, "validate", license)
    assert first.status_code == 200 and verified(client, first.json()["data"], product["id"])
    children = helpers()
    assert len(children) == (1 if database_url else 2)  # the signer; on SQLite the call log's writer too

    for pid in children:
        os.kill(pid, signal.SIGKILL)
    eventually(lambda: not helpers() & children, "the killed helpers are gone", 10)

    again = call(client, "validate", license)
    assert again.status_code == 200 and verified(client, again.json()["data"], product["id"])
    assert len(helpers()) == len(children) and not helpers() & children
    logs = client.get(f"/api/licenses/{license['id']}/logs", headers=auth(vendor_token)).json()["data"]["logs"]
    assert [log["success"] for log in logs if log["action"] == "validation"] == [True, True]


def queued_for(pid: int) -> int:
    """How many bytes wait in the pipe a child reads its frames from (its stdin)."""
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NONBLOCK)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    finally:
        os.close(fd)


def test_a_call_a_dying_helper_held_is_answered_503_and_the_next_one_is_signed(client, vendor_token):
    product = create_product(client, vendor_token, signing_algorithm="ed25519")
    license = create_license(client, vendor_token, product["id"])
    assert call(client, "activate", license).status_code == 200
    assert call(client, "validate", license).status_code == 200
    (signer,) = [pid for pid in helpers() if b"signing_child" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    # Stop the signer, so that a validation's signature waits in its pipe, then kill it.
    os.kill(signer, signal.SIGSTOP)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call, client, "validate", license)
        deadline = time.monotonic() + 30
        while not queued_for(signer):  # its frame has reached the stopped signer
            assert time.monotonic() < deadline and not pending.done()
            time.sleep(0.01)
        os.kill(signer, signal.SIGKILL)
        refused = pending.result(timeout=30)

    # Check it is refused as a store that stopped answering is, in the envelope, and the next call is answered.
    assert refused.status_code == 503, refused.text
    assert refused.json()["error_code"] == "SERVICE_UNAVAILABLE" and refused.headers["retry-after"]
    again = call(client, "validate", license)
    assert again.status_code == 200 and verified(client, again.json()["data"], product["id"])
