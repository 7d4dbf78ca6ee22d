"""On PostgreSQL a projector polls once a second: an append in another process wakes it at once, also after the
listening connection was dropped."""

import time

import psycopg
import pytest

from keyledger.wiring import NOTIFIED_POLL, build_runtime
from tests.conftest import POSTGRES_URL, eventually
from tests.integration.conftest import issue

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]


@pytest.fixture
def writer(settings, clock):
    """Another process's runtime: it appends, projects nothing."""
    other = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    yield other
    other.close()


def seconds_to_project(runtime, writer, vendor, product_id, clock) -> float:
    issue(writer.ledger, vendor, product_id, clock())
    start, position = time.monotonic(), writer.ledger.position()
    eventually(lambda: all(model["position"] >= position for model in runtime.projector.status()), "projected",
               10, 0.005)  # read from the tracking rows: `projector.wait` would wake the projector itself
    return time.monotonic() - start


def listener_pid(runtime) -> int:
    return runtime._notifications._conn.info.backend_pid


def test_an_append_elsewhere_is_projected_long_before_the_next_poll(runtime, writer, vendor, product_id, clock):
    assert runtime.projector.poll == NOTIFIED_POLL
    waits = []
    for pause in (0.13, 0.41, 0.67, 0.29, 0.83):  # anywhere in the poll's second
        time.sleep(pause)
        waits.append(seconds_to_project(runtime, writer, vendor, product_id, clock))
    assert max(waits) < NOTIFIED_POLL / 2, waits


def test_after_its_connection_is_dropped_the_listener_listens_again(runtime, writer, vendor, product_id, clock):
    seconds_to_project(runtime, writer, vendor, product_id, clock)
    dropped = listener_pid(runtime)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
    time.sleep(2.5)  # the listener tries again a second after it noticed

    assert listener_pid(runtime) != dropped
    waits = [seconds_to_project(runtime, writer, vendor, product_id, clock) for _ in range(3)]
    assert max(waits) < NOTIFIED_POLL / 2, waits
