"""Audit benchmark: chain linking, export and verify rates beside a same-run baseline; history and state answer times.

Run from the repository root:

    .venv/bin/python bench/audit.py                 # SQLite and PostgreSQL, 10,000-event license + 20,000 others
    .venv/bin/python bench/audit.py --quick         # 1,000-event license + 2,000 others (< 1 min)
    .venv/bin/python bench/audit.py --backends sqlite

Baselines, measured in the same run on the same rows: for export, a plain SELECT of the event
rows streamed to a file; for verify, the same SELECT with SHA-256 over each row's bytes. The
answer times of `GET /licenses/{id}/history` and `/state?at=` for one license with many events
are printed beside `GET /licenses/{id}` (the read model). Compare ratios between runs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/audit.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

from litestar.testing import TestClient  # noqa: E402

from api.app import create_app  # noqa: E402
from bench import validate  # noqa: E402
from domain.account import Actor  # noqa: E402
from domain.audit import CALLS, EVENTS  # noqa: E402
from domain.license import LicenseTerms  # noqa: E402
from domain.product import SigningAlgorithm  # noqa: E402
from keyledger.settings import Settings  # noqa: E402
from keyledger.wiring import Runtime, build_runtime, postgres_conninfo  # noqa: E402
from projections.audit_export import ExportScope, export_lines  # noqa: E402
from workers.audit import verify_chain  # noqa: E402

POSTGRES_URL = os.environ.get("KEYLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SAVE_EVERY = 500  # events of the long license saved per transaction
ANSWERS = 7  # requests timed per endpoint; the median is printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    long_events, others = (1_000, 2_000) if args.quick else (10_000, 20_000)
    rows: list[tuple[str, str, str, str, str]] = []
    for backend in args.backends:
        with fresh_runtime(backend) as runtime:
            rows += _measure(backend, runtime, long_events, others)
    print(f"\n{'backend':<9} {'measure':<44} {'value':>14} {'baseline':>14}  ratio  baseline is")
    for backend, measure, value, baseline, label in rows:
        print(f"{backend:<9} {measure:<44} {value:>14} {baseline:>14}  {label}")


@contextmanager
def fresh_runtime(backend: str) -> Iterator[Runtime]:
    """A runtime on an empty store of `backend` (a temporary data dir, and a schema of its own), removed after."""
    data = Path(tempfile.mkdtemp(prefix="klbench_audit_"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, data, ignore_errors=True)
        url = None
        if backend == "postgres":
            url = f"{POSTGRES_URL}?schema={cleanup.enter_context(validate.postgres_schema(POSTGRES_URL, 'klbench'))}"
        settings = Settings(data_dir=str(data), database_url=url, password_profile="CHEAPEST", consistency_timeout=60)
        runtime = build_runtime(settings, start_projector=False, start_workers=False)
        cleanup.callback(runtime.close)
        yield runtime


def _measure(backend: str, runtime: Runtime, long_events: int, others: int) -> list[tuple[str, str, str, str, str]]:
    license_id = _history(runtime, long_events, others)
    runtime.projector.catch_up()
    events = runtime.ledger.position()
    print(f"{backend}: {events} events stored; linking...", flush=True)
    assert runtime.audit is not None
    linked, link_seconds = _timed(runtime.audit.keeper.catch_up)
    export_seconds = _timed(lambda: _export(runtime))[1]
    select_seconds = _timed(lambda: _select(runtime, hash_rows=False))[1]
    verify_seconds = _timed(lambda: verify_chain(runtime.store, EVENTS, runtime.audit.sources[EVENTS],
                                                 runtime.audit.public_keys()))[1]
    hash_seconds = _timed(lambda: _select(runtime, hash_rows=True))[1]
    answers = _answers(runtime, license_id)
    rate = lambda seconds: f"{events / seconds:,.0f}/s"  # noqa: E731
    ms = lambda seconds: f"{seconds * 1000:,.1f} ms"  # noqa: E731
    read = answers["read"]
    return [
        (backend, f"link the chain ({linked} records)", rate(link_seconds), rate(select_seconds),
         f"{select_seconds / link_seconds:5.2f}  plain SELECT to a file"),
        (backend, "export, events/s (NDJSON with hashes)", rate(export_seconds), rate(select_seconds),
         f"{select_seconds / export_seconds:5.2f}  plain SELECT to a file"),
        (backend, "verify (events chain), events/s", rate(verify_seconds), rate(hash_seconds),
         f"{hash_seconds / verify_seconds:5.2f}  SELECT + SHA-256 of the bytes"),
        (backend, f"history, first page of 100 ({long_events} events)", ms(answers["history"]), ms(read),
         f"{read / answers['history']:5.2f}  GET /licenses/{{id}}"),
        (backend, f"history, last page of 100 ({long_events} events)", ms(answers["history_last"]), ms(read),
         f"{read / answers['history_last']:5.2f}  GET /licenses/{{id}}"),
        (backend, f"state?at= now ({long_events} events)", ms(answers["state"]), ms(read),
         f"{read / answers['state']:5.2f}  GET /licenses/{{id}}"),
    ]


def _history(runtime: Runtime, long_events: int, others: int) -> uuid.UUID:
    """A vendor, a product, `others` licenses issued 100 at a time, and one license with `long_events` events."""
    ledger, at = runtime.ledger, datetime(2026, 1, 1, tzinfo=timezone.utc)
    vendor = Actor(ledger.register_account("bench@example.com", "secret123", "Bench", at).id, is_admin=True)
    product = ledger.create_product(vendor, "Bench", "", SigningAlgorithm.ED25519, at).id
    for _ in range(others // 100):
        ledger.issue_licenses(vendor, product, 100, LicenseTerms(), at)
    license_id = ledger.issue_license(vendor, product, LicenseTerms(), at).id
    license = ledger.repository.get(license_id)
    for index in range(long_events - 1):
        at += timedelta(seconds=1)
        license.suspend("bench", at) if index % 2 == 0 else license.reinstate(at)
        if index % SAVE_EVERY == SAVE_EVERY - 1:
            ledger.save(license)
    ledger.save(license)
    return license_id


def _export(runtime: Runtime) -> None:
    assert runtime.audit is not None
    scope = ExportScope(until=datetime(9999, 1, 1, tzinfo=timezone.utc))  # a filter, so every line's time is read
    with tempfile.TemporaryFile() as out:
        for line in export_lines(runtime.store, {EVENTS: runtime.audit.sources[EVENTS], CALLS: _Empty()}, scope,
                                 runtime.audit.key.key_id, runtime.audit.key.public_pem):
            out.write(line)


class _Empty:
    def records(self, after: int, limit: int) -> list[Any]:
        return []


def _select(runtime: Runtime, hash_rows: bool) -> None:
    """The baseline: every event row in position order, written to a file (or hashed), streamed."""
    table = runtime.ledger.recorder.events_table_name
    with tempfile.TemporaryFile() as out:
        for row in _rows(runtime, table):
            if hash_rows:
                hashlib.sha256(row[4]).digest()
            else:
                out.write(b"%d\t%s\t%d\t%s\t" % (row[0], str(row[1]).encode(), row[2], row[3].encode()) + row[4] + b"\n")


def _rows(runtime: Runtime, table: str) -> Iterator[tuple[Any, ...]]:
    sql = f"SELECT {{}}, originator_id, originator_version, topic, state FROM {table} ORDER BY {{}}"
    if not runtime.settings.is_postgres:
        conn = sqlite3.connect(runtime.settings.sqlite_path)
        try:
            yield from conn.execute(sql.format("rowid", "rowid"))
        finally:
            conn.close()
        return
    schema = (runtime.settings.database_url or "").rpartition("schema=")[2]
    with psycopg.connect(postgres_conninfo(runtime.settings), options=f"-c search_path={schema}") as conn, \
            conn.cursor(name="bench") as cursor:
        cursor.itersize = 1000
        cursor.execute(sql.format("notification_id", "notification_id"))
        yield from ((r[0], r[1], r[2], r[3], bytes(r[4])) for r in cursor)


def _answers(runtime: Runtime, license_id: uuid.UUID) -> dict[str, float]:
    """Median answer times in process (Litestar's test client: no network) of history, state and the read model."""
    with TestClient(app=create_app(runtime)) as client:
        token = client.post("/api/auth/login", json={"email": "bench@example.com", "password": "secret123"})
        headers = {"Authorization": f"Bearer {token.json()['data']['token']}"}
        path = f"/api/licenses/{license_id}"
        pages = client.get(f"{path}/history?limit=100", headers=headers).json()["data"]["pagination"]["pages"]
        now = "2100-01-01T00:00:00Z"
        return {name: _median(lambda url=url: _ok(client.get(url, headers=headers))) for name, url in (
            ("read", path), ("history", f"{path}/history?limit=100"),
            ("history_last", f"{path}/history?limit=100&page={pages}"), ("state", f"{path}/state?at={now}"))}


def _ok(response: Any) -> None:
    assert response.status_code == 200, response.text


def _median(call: Callable[[], None]) -> float:
    call()  # warm
    return statistics.median(_timed(call)[1] for _ in range(ANSWERS))


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


if __name__ == "__main__":
    main()
