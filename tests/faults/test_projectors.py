"""Several projector processes, one of them killed mid-run; several API processes each projecting."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import backend_url  # noqa: F401 - the fixture
from tests.faults.conftest import Projector, assert_nothing_lost_nothing_twice, process_env, start_server
from tests.faults.http_traffic import open_vendor


@pytest.mark.parametrize("count", [2, 3])
def test_projector_processes_one_killed_apply_each_event_once(backend_url, tmp_path, count):  # noqa: F811
    env = process_env(backend_url, run_projections="false")
    server = start_server(tmp_path / "var", env)
    projectors = [Projector(tmp_path / "var", env, f"projector-{n}") for n in range(count)]
    try:
        for projector in projectors:
            projector.start()
        traffic = open_vendor(server.base)
        traffic.run(seconds=3)
        projectors[0].kill()  # SIGKILL, mid-batch as likely as not
        traffic.run(seconds=3)
        projectors[0].start()
        traffic.run(seconds=2, until={("POST licenses", 201): 6, ("activate", 200): 6})
        time.sleep(1)  # the projectors catch up with the last writes
    finally:
        server.stop()
        for projector in projectors:
            projector.stop()

    assert traffic.answers[("POST licenses", 201)] > 5 and traffic.answers[("activate", 200)] > 5
    assert_nothing_lost_nothing_twice(tmp_path / "var", env, traffic)


def test_two_api_processes_each_projecting_apply_each_event_once(backend_url, tmp_path):  # noqa: F811
    env = process_env(backend_url)  # projections on, as by default: both processes project
    server = start_server(tmp_path / "var", env, workers=2)
    try:
        traffic = open_vendor(server.base)
        traffic.run(seconds=6, until={("POST licenses", 201): 11, ("activate", 200): 11})
    finally:
        server.stop()

    assert traffic.answers[("POST licenses", 201)] > 10 and traffic.answers[("activate", 200)] > 10
    assert_nothing_lost_nothing_twice(tmp_path / "var", env, traffic)
