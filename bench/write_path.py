"""Write-path benchmark: bulk license issue over HTTP and a full projection rebuild, each beside a raw-INSERT baseline.

Run from the repository root:

    .venv/bin/python bench/write_path.py            # full size, SQLite and PostgreSQL
    .venv/bin/python bench/write_path.py --quick    # smoke test, well under 30 s
    .venv/bin/python bench/write_path.py --backends sqlite --profile   # + cProfile of the rebuild

Every figure is printed beside a baseline measured in the same run on the same machine, so the
ratio is what to compare between runs; absolute numbers depend on the host and are never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/write_path.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

from bench import validate  # noqa: E402

POSTGRES_URL = os.environ.get("KEYLEDGER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BULK_COUNT = 100  # licenses per POST /api/licenses/bulk (the API's maximum)
BULK_BASELINE_BATCH = 100  # rows per transaction in the bulk baseline: one request's worth
REBUILD_BASELINE_BATCH = 500  # rows per transaction in the rebuild baseline: workers.projector.BATCH
ISSUED_TOPIC = "domain.license:License.Issued"
REBUILD_TIMEOUT = 1800.0  # seconds; a rebuild that never ends fails the run instead of hanging it


@dataclass(frozen=True)
class Size:
    """How much work one run does."""

    requests: int
    clients: int
    events: int
    lag_seconds: float


FULL = Size(requests=50, clients=4, events=100_000, lag_seconds=15)
QUICK = Size(requests=5, clients=4, events=2_000, lag_seconds=3)


@dataclass(frozen=True)
class Figure:
    """One line of the result table."""

    backend: str
    measure: str
    value: float
    baseline: float
    baseline_label: str

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


# --- backends -----------------------------------------------------------------------------------------------------


def postgres_schema() -> AbstractContextManager[str]:
    """A throwaway `klbench_*` schema (as tests/conftest.py makes them), dropped with everything in it at the end."""
    return validate.postgres_schema(POSTGRES_URL, "klbench")


@contextmanager
def backend_store(backend: str) -> Iterator[tuple[Path, str | None, str | None]]:
    """(data dir, KEYLEDGER_DATABASE_URL or None for the embedded default, PostgreSQL schema or None)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"klbench-{backend}-"))
    try:
        if backend == "sqlite":
            yield data_dir, None, None
        else:
            with postgres_schema() as schema:
                yield data_dir, f"{POSTGRES_URL}?schema={schema}", schema
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def issued_sample(data_dir: Path, schema: str | None) -> tuple[str, bytes, float]:
    """(topic, one stored License.Issued state, average state size) read back from the event store."""
    if schema is None:
        with sqlite3.connect(data_dir / "events.sqlite3") as conn:
            return _issued_sample_from(conn.execute, "stored_events", "length", "?")
    with psycopg.connect(POSTGRES_URL) as conn:
        table = conn.execute(
            "SELECT table_name FROM information_schema.columns"
            " WHERE table_schema = %s AND column_name = 'state' AND table_name LIKE %s",
            (schema, "%events"),
        ).fetchone()[0]
        return _issued_sample_from(conn.execute, f'"{schema}"."{table}"', "octet_length", "%s")


def _issued_sample_from(execute: Callable[..., Any], table: str, length: str, mark: str) -> tuple[str, bytes, float]:
    topic, state = execute(f"SELECT topic, state FROM {table} WHERE topic = {mark} LIMIT 1", (ISSUED_TOPIC,)).fetchone()
    size = execute(f"SELECT AVG({length}(state)) FROM {table} WHERE topic = {mark}", (ISSUED_TOPIC,)).fetchone()[0]
    return topic, bytes(state), float(size)


# --- measure 1: bulk issue over real HTTP -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, database_url: str | None) -> Iterator[str]:
    """`keyledger serve` as a subprocess; always terminated (then killed if it lingers) on the way out."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLEDGER_")}
    if database_url:
        env["KEYLEDGER_DATABASE_URL"] = database_url
    executable = Path(sys.executable).with_name("keyledger")
    command = [str(executable), "serve", "--port", str(port), "--data-dir", str(data_dir / "var")]
    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/api"
        wait_until_listening(server, base, log_path)
        yield base
    finally:
        stop_process(server)


def wait_until_listening(server: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"keyledger serve exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            httpx.get(f"{base}/auth/me", timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"keyledger serve did not answer within {timeout} s:\n{log_path.read_text()[-3000:]}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def expect(response: httpx.Response, status: int) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()["data"]


def vendor_with_product(base: str) -> tuple[dict[str, str], str]:
    """Register the first account and create one product; (auth headers, product id)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        body = {"email": "bench@example.com", "password": "secret123", "display_name": "bench"}
        token = expect(client.post("/auth/register", json=body), 201)["token"]
        headers = {"Authorization": f"Bearer {token}"}
        product = expect(client.post("/products", json={"name": "Bench"}, headers=headers), 201)
        return headers, product["id"]


def fire_bulk_requests(base: str, headers: dict[str, str], product_id: str, size: Size) -> tuple[int, float]:
    """POST `size.requests` bulk issues from `size.clients` threads (one connection each); (created, seconds)."""
    local = threading.local()
    clients: list[httpx.Client] = []
    body = {"product_id": product_id, "count": BULK_COUNT, "type": "subscription", "metadata": {"plan": "pro"}}

    def issue(_: int) -> tuple[int, int]:
        """(licenses created, licenses shown in the answer); (0, 0) when the server answered 409 (contention)."""
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers=headers, timeout=120)
            clients.append(local.client)
        response = local.client.post("/licenses/bulk", json=body)
        if response.status_code == 409:
            return 0, 0
        data = expect(response, 201)
        return data["created"], len(data["licenses"])  # fewer shown: the read-your-writes wait timed out

    try:
        with ThreadPoolExecutor(size.clients) as pool:
            list(pool.map(issue, range(size.clients)))  # warm-up: open the connections, first writes
            started = time.perf_counter()
            answers = list(pool.map(issue, range(size.requests)))
            elapsed = time.perf_counter() - started
        report_bulk_answers(answers, size.requests)
        return sum(created for created, _ in answers), elapsed
    finally:
        for client in clients:
            client.close()


def report_bulk_answers(answers: list[tuple[int, int]], requests: int) -> None:
    if refused := sum(1 for created, _ in answers if created == 0):
        note(f"{refused} of {requests} bulk requests were refused with 409 (optimistic-concurrency retries ran out)")
    if late := sum(1 for created, shown in answers if 0 < shown < created):
        note(f"{late} of {requests} bulk answers came before the read models caught up")


def measure_bulk(backend: str, size: Size) -> tuple[float, tuple[str, bytes, float]]:
    """Licenses per second through POST /api/licenses/bulk, and a stored License.Issued sample."""
    with backend_store(backend) as (data_dir, database_url, schema):
        with running_server(data_dir, database_url) as base:
            headers, product_id = vendor_with_product(base)
            created, elapsed = fire_bulk_requests(base, headers, product_id, size)
        return created / elapsed, issued_sample(data_dir / "var", schema)


def sqlite_bulk_baseline(rows: int, topic: str, state: bytes) -> float:
    """Raw INSERTs into a stored_events-shaped SQLite table (WAL, as the event store), 100 rows per transaction."""
    with tempfile.TemporaryDirectory(prefix="klbench-baseline-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "baseline.sqlite3", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT,"
                         " state BLOB, PRIMARY KEY (originator_id, originator_version))")
            batches = _event_rows(rows, BULK_BASELINE_BATCH, lambda: uuid.uuid4().hex, topic, state)
            started = time.perf_counter()
            for batch in batches:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", batch)
                conn.execute("COMMIT")
            return rows / (time.perf_counter() - started)
        finally:
            conn.close()


def postgres_bulk_baseline(rows: int, topic: str, state: bytes) -> float:
    """Raw INSERTs into a stored-events-shaped PostgreSQL table, executemany, 100 rows per transaction."""
    with postgres_schema() as schema, psycopg.connect(POSTGRES_URL) as conn:
        table = f'"{schema}".baseline_events'
        conn.execute(f"CREATE TABLE {table} (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
                     " topic text, state bytea, notification_id bigserial,"
                     " PRIMARY KEY (originator_id, originator_version))")
        conn.execute(f"CREATE UNIQUE INDEX ON {table} (notification_id)")
        conn.commit()
        batches = _event_rows(rows, BULK_BASELINE_BATCH, uuid.uuid4, topic, state)
        started = time.perf_counter()
        for batch in batches:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
                                   " VALUES (%s, %s, %s, %s)", batch)
        return rows / (time.perf_counter() - started)


def _event_rows(rows: int, batch: int, new_id: Callable[[], Any], topic: str, state: bytes) -> list[list[tuple[Any, ...]]]:
    """Rows built before the clock starts, so the baseline times the INSERTs only."""
    all_rows = [(new_id(), 1, topic, state) for _ in range(rows)]
    return [all_rows[i : i + batch] for i in range(0, rows, batch)]


# --- measure 2: full projection rebuild ---------------------------------------------------------------------------


def fill_store(data_dir: Path, database_url: str | None, events: int) -> int:
    """≥ `events` License.Issued events through the Ledger itself (100 per save), with nothing projecting."""
    from domain.account import Actor
    from domain.license import LicenseTerms
    from domain.product import SigningAlgorithm
    from keyledger.settings import Settings
    from keyledger.wiring import build_runtime

    runtime = build_runtime(Settings(data_dir=str(data_dir), database_url=database_url), start_projector=False)
    try:
        at = datetime.now(timezone.utc)
        account = runtime.ledger.register_account("bench@example.com", "secret123", "bench", at)
        actor = Actor(account.id, is_admin=True)
        product = runtime.ledger.create_product(actor, "Bench", "", SigningAlgorithm.ED25519, at)
        for _ in range(-(-events // BULK_COUNT)):
            runtime.ledger.issue_licenses(actor, product.id, BULK_COUNT, LicenseTerms(metadata={"plan": "pro"}), at)
        return runtime.ledger.position()
    finally:
        runtime.close()


def rebuild_in_fresh_process(data_dir: str, database_url: str | None, profile: bool) -> dict[str, Any]:
    """Runs in a spawned child, as `keyledger rebuild` would, so its peak RSS is the rebuild's alone."""
    from keyledger.settings import Settings
    from keyledger.wiring import build_runtime

    runtime = build_runtime(Settings(data_dir=data_dir, database_url=database_url), start_projector=False)
    try:
        rss_before = current_rss_kib()
        reset_peak_rss()  # the peak so far is startup's (Ledger() hashes a dummy argon2 password: ~64 MiB)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        count = runtime.projector.rebuild()
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
        licenses = runtime.store.query("SELECT COUNT(*) AS n FROM licenses")[0]["n"]
        return {"events": count, "seconds": elapsed, "licenses": licenses, "rss_before_kib": rss_before,
                "peak_rss_kib": peak_rss_kib(),
                "profile": _profile_text(profiler) if profiler is not None else ""}
    finally:
        runtime.close()


def current_rss_kib() -> int:
    return _proc_status_kib("VmRSS:")


def reset_peak_rss() -> None:
    """Start the peak over (Linux ≥ 4.0), so that it is the rebuild's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_kib() -> int:
    """This process's peak RSS since `reset_peak_rss()`.

    `getrusage(RUSAGE_SELF).ru_maxrss` is the portable figure, but it cannot be reset, and on Linux a spawned
    child even inherits its parent's peak across fork+exec; so where /proc exists, VmHWM is read instead.
    """
    return _proc_status_kib("VmHWM:")


def _proc_status_kib(field: str) -> int:
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else ():
        if line.startswith(field):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux; not on macOS, only a fallback


def _profile_text(profiler: cProfile.Profile, top: int = 15) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(os.environ.get("KL_PROFILE_SORT", "cumulative")).print_stats(top)
    return out.getvalue()


def measure_rebuild(backend: str, size: Size, profile: bool) -> dict[str, Any]:
    with backend_store(backend) as (data_dir, database_url, _):
        store_dir = data_dir / "var"
        started = time.perf_counter()
        recorded = fill_store(store_dir, database_url, size.events)
        fill_seconds = time.perf_counter() - started
        with get_context("spawn").Pool(1) as pool:  # leaving the block terminates the child, even on an error
            job = pool.apply_async(rebuild_in_fresh_process, (str(store_dir), database_url, profile))
            result = job.get(timeout=REBUILD_TIMEOUT)
        return {**result, "recorded": recorded, "fill_seconds": fill_seconds}


# The `licenses` read model's shape (projections/licenses.py) frozen here, so that the yardstick stays put
# while the projections change.
BASELINE_LICENSES_DDL = (
    "CREATE TABLE baseline_licenses ("
    " id TEXT PRIMARY KEY, license_key TEXT NOT NULL, product_id TEXT NOT NULL, owner_id TEXT NOT NULL,"
    " type TEXT NOT NULL, suspended INTEGER NOT NULL, devices TEXT NOT NULL, hwid_locked INTEGER NOT NULL,"
    " max_uses INTEGER NOT NULL, current_uses INTEGER NOT NULL, expires_at TEXT, metadata TEXT NOT NULL,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, username TEXT, seq BIGINT NOT NULL)",
    "CREATE INDEX baseline_licenses_owner ON baseline_licenses (owner_id, seq)",
    "CREATE INDEX baseline_licenses_product ON baseline_licenses (product_id, seq)",
)
INSERT_LICENSE = "INSERT INTO baseline_licenses VALUES ({})".format(", ".join(["{0}"] * 16))


def license_rows(rows: int) -> list[list[tuple[Any, ...]]]:
    """Rows like the ones a License.Issued makes, in batches of 500 (built before the clock starts)."""
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    product, owner = str(uuid.uuid4()), str(uuid.uuid4())
    all_rows = [(str(uuid.uuid4()), uuid.uuid4().hex[:19].upper(), product, owner, "subscription", 0, "[]", 1, 1, 0,
                 None, '{"plan":"pro"}', at, at, None, seq) for seq in range(rows)]
    return [all_rows[i : i + REBUILD_BASELINE_BATCH] for i in range(0, rows, REBUILD_BASELINE_BATCH)]


def sqlite_rebuild_baseline(rows: int) -> float:
    """Raw INSERTs of license rows into one SQLite table (pragmas of projections.db.SQLiteReadStore), 500 a batch."""
    batches = license_rows(rows)
    with tempfile.TemporaryDirectory(prefix="klbench-baseline-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "baseline.read.sqlite3", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in BASELINE_LICENSES_DDL:
                conn.execute(statement)
            started = time.perf_counter()
            for batch in batches:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(INSERT_LICENSE.format("?"), batch)
                conn.execute("COMMIT")
            return rows / (time.perf_counter() - started)
        finally:
            conn.close()


def postgres_rebuild_baseline(rows: int) -> float:
    """Raw INSERTs of license rows into one PostgreSQL table, executemany, 500 a batch."""
    batches = license_rows(rows)
    with postgres_schema() as schema, psycopg.connect(POSTGRES_URL, options=f"-c search_path={schema}") as conn:
        for statement in BASELINE_LICENSES_DDL:
            conn.execute(statement)
        conn.commit()
        started = time.perf_counter()
        for batch in batches:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(INSERT_LICENSE.format("%s"), batch)
        return rows / (time.perf_counter() - started)


# --- measure 3: projection lag under a steady write rate -----------------------------------------------------------

LAG_RATE = 40  # license writes per second, steady
PROJECTOR_POLL = 0.05  # workers.projector.Projector's poll interval: how often a projector in another process looks


@contextmanager
def projector_processes(data_dir: Path, database_url: str | None, count: int) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLEDGER_")}
    env["KEYLEDGER_DATA_DIR"] = str(data_dir)
    if database_url:
        env["KEYLEDGER_DATABASE_URL"] = database_url
    executable = Path(sys.executable).with_name("keyledger")
    with open(data_dir.parent / "projectors.log", "ab") as log:
        processes = [subprocess.Popen([str(executable), "project"], cwd=ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT) for _ in range(count)]
    try:
        yield
    finally:
        for process in processes:
            stop_process(process)


class LagWatch:
    """Notes, for each write, when every read model had it (the projectors) and when a bare poll at the
    projectors' own interval first saw it in the event store (the baseline): both against its commit."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        # The read models the projectors keep (the audit chains track their own logs beside them).
        self.models = [projection.name for projection in runtime.projector.projections]
        self.writes: list[tuple[int, float]] = []  # (position, committed at)
        self.projected: dict[int, float] = {}
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()

    def watch_models(self) -> None:
        while not self.stop.is_set():
            rows = self.runtime.store.query("SELECT COUNT(*) AS n, MIN(notification_id) AS low"
                                            " FROM projection_tracking WHERE application_name = ? AND projection IN"
                                            f" ({', '.join('?' * len(self.models))})",
                                            (self.runtime.ledger.name, *self.models))
            if rows and rows[0]["n"] >= len(self.models):
                self._note(self.projected, rows[0]["low"] or 0)
            time.sleep(0.001)

    def watch_store(self) -> None:
        while not self.stop.wait(PROJECTOR_POLL):
            self._note(self.seen, self.runtime.ledger.recorder.max_notification_id() or 0)

    def _note(self, into: dict[int, float], reached: int) -> None:
        now = time.perf_counter()
        for position, _ in list(self.writes):
            if position <= reached:
                into.setdefault(position, now)

    def lags_ms(self, into: dict[int, float]) -> list[float]:
        return sorted((into[position] - committed) * 1000 for position, committed in self.writes if position in into)


def percentile(values: Sequence[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


def measure_lag(backend: str, projectors: int, seconds: float) -> dict[str, float]:
    """Writes at LAG_RATE for `seconds` with `projectors` `keyledger project` processes; lag p50/p99 in ms."""
    from domain.account import Actor
    from domain.license import LicenseTerms
    from domain.product import SigningAlgorithm
    from keyledger.settings import Settings
    from keyledger.wiring import build_runtime

    with backend_store(backend) as (data_dir, database_url, _):
        store_dir = data_dir / "var"
        settings = Settings(data_dir=str(store_dir), database_url=database_url, password_profile="CHEAPEST")
        runtime = build_runtime(settings, start_projector=False, start_workers=False)
        try:
            at = datetime.now(timezone.utc)
            actor = Actor(runtime.ledger.register_account("lag@example.com", "secret123", "lag", at).id, True)
            product = runtime.ledger.create_product(actor, "Lag", "", SigningAlgorithm.ED25519, at).id
            with projector_processes(store_dir, database_url, projectors):
                watch = LagWatch(runtime)
                watchers = [threading.Thread(target=watch.watch_models), threading.Thread(target=watch.watch_store)]
                for watcher in watchers:
                    watcher.start()
                time.sleep(2)  # the projectors start and catch up with the setup
                started = time.perf_counter()
                for n in range(int(LAG_RATE * seconds)):
                    time.sleep(max(0.0, started + n / LAG_RATE - time.perf_counter()))
                    receipt = runtime.ledger.issue_license(actor, product, LicenseTerms(), datetime.now(timezone.utc))
                    watch.writes.append((receipt.position, time.perf_counter()))
                time.sleep(2)  # the last writes reach the read models
                watch.stop.set()
                for watcher in watchers:
                    watcher.join()
        finally:
            runtime.close()
    projected, seen = watch.lags_ms(watch.projected), watch.lags_ms(watch.seen)
    return {"p50": percentile(projected, 0.5), "p99": percentile(projected, 0.99),
            "baseline_p50": percentile(seen, 0.5), "baseline_p99": percentile(seen, 0.99),
            "missing": len(watch.writes) - len(projected)}


# --- the run ------------------------------------------------------------------------------------------------------


BULK_BASELINES = {"sqlite": sqlite_bulk_baseline, "postgres": postgres_bulk_baseline}
REBUILD_BASELINES = {"sqlite": sqlite_rebuild_baseline, "postgres": postgres_rebuild_baseline}


def run_backend(backend: str, size: Size, profile: bool) -> tuple[list[Figure], str]:
    licenses_per_second, (topic, state, state_size) = measure_bulk(backend, size)
    baseline = BULK_BASELINES[backend](size.requests * BULK_COUNT, topic, state)
    note(f"{backend}: bulk done ({size.requests} x {BULK_COUNT}; stored License.Issued ≈ {state_size:.0f} bytes)")
    rebuild = measure_rebuild(backend, size, profile)
    note(f"{backend}: filled {rebuild['recorded']} events in {rebuild['fill_seconds']:.1f} s; "
         f"rebuild replayed {rebuild['events']} into {rebuild['licenses']} license rows")
    rows_per_second = REBUILD_BASELINES[backend](rebuild["events"])
    rows = [
        Figure(backend, f"bulk issue over HTTP, licenses/s ({size.clients} clients)", licenses_per_second, baseline,
            "INSERT rows/s"),
        Figure(backend, "rebuild, events/s", rebuild["events"] / rebuild["seconds"], rows_per_second, "INSERT rows/s"),
        Figure(backend, "rebuild peak RSS, MiB", rebuild["peak_rss_kib"] / 1024, rebuild["rss_before_kib"] / 1024,
            "RSS before, MiB"),
    ]
    for projectors in (1, 2):
        lag = measure_lag(backend, projectors, size.lag_seconds)
        if lag["missing"]:
            note(f"{backend}: {lag['missing']} writes never reached every read model with {projectors} projector(s)")
        rows += [Figure(backend, f"projection lag p50, ms ({projectors} projector{'s' * (projectors > 1)}, "
                              f"{LAG_RATE} writes/s)", lag["p50"], lag["baseline_p50"], "bare poll, ms"),
                 Figure(backend, f"projection lag p99, ms ({projectors} projector{'s' * (projectors > 1)})",
                     lag["p99"], lag["baseline_p99"], "bare poll, ms")]
    return rows, rebuild["profile"]


def note(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def print_table(rows: Sequence[Figure]) -> None:
    header = ("backend", "measure", "value", "baseline", "ratio")
    lines = [header] + [(r.backend, r.measure, f"{r.value:,.1f}" if r.value < 100 else f"{r.value:,.0f}",
                         f"{r.baseline:,.1f} {r.baseline_label}" if r.baseline < 100 else
                         f"{r.baseline:,.0f} {r.baseline_label}", f"{r.ratio:.3f}") for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if number == 0:
            print("-+-".join("-" * width for width in widths))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a much smaller run for smoke-testing (< 30 s)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--requests", type=int, help="bulk requests of 100 licenses to time")
    parser.add_argument("--clients", type=int, help="concurrent HTTP client threads")
    parser.add_argument("--events", type=int, help="events in the store to rebuild from")
    parser.add_argument("--lag-seconds", type=float, help="seconds of steady writes while the lag is measured")
    parser.add_argument("--profile", action="store_true", help="cProfile each rebuild; print the top entries")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain SIGTERM would skip the `finally`s that stop the server and drop the schemas and temp dirs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    default = QUICK if args.quick else FULL
    size = Size(args.requests or default.requests, args.clients or default.clients, args.events or default.events,
                args.lag_seconds or default.lag_seconds)
    started = time.perf_counter()
    rows: list[Figure] = []
    profiles: dict[str, str] = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend not in BULK_BASELINES:
            raise SystemExit(f"unknown backend {backend!r}: choose sqlite, postgres")
        backend_rows, profiles[backend] = run_backend(backend, size, args.profile)
        rows.extend(backend_rows)
    print_table(rows)
    for backend, text in profiles.items():
        if text:
            print(f"\ncProfile of the {backend} rebuild (cumulative):\n{text}")
    note(f"whole benchmark: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
