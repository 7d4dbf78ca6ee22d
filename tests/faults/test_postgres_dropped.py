"""PostgreSQL backends terminated under traffic, with one and with two API processes (projections on)."""

from __future__ import annotations

import pytest

from tests.faults.conftest import BackendTerminator, assert_nothing_lost_nothing_twice, process_env, start_server
from tests.faults.http_traffic import open_vendor

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


@pytest.mark.parametrize("workers", [1, 2])
def test_terminated_backends_lose_nothing_and_double_nothing(postgres_url, tmp_path, workers):
    env = process_env(postgres_url)
    server = start_server(tmp_path / "var", env, workers=workers)
    try:
        traffic = open_vendor(server.base)
        with BackendTerminator(env["PGAPPNAME"]) as terminator:
            traffic.run(seconds=8)
        traffic.run(seconds=1, until={("POST licenses", 201): 11, ("validate", 200): 11})  # faults stopped
    finally:
        server.stop()

    assert not server.killed, "the server did not stop within 15 s of SIGTERM"
    # Check the faults happened and the traffic did what it was meant to...
    assert terminator.terminated > 10
    validations = sum(count for (what, _), count in traffic.answers.items() if what == "validate")
    assert traffic.answers[("POST licenses", 201)] > 10 and validations > 10 and traffic.answers[("validate", 200)]
    # ...and that no promise was broken.
    assert_nothing_lost_nothing_twice(tmp_path / "var", env, traffic)
