"""Validation throughput: `POST /api/client/validate` under wrk, beside a bare Litestar endpoint.

For an Ed25519 product and an RSA-4096 product, at 32 and 128 connections, on the embedded
default (SQLite, 1 API process) and on PostgreSQL + Redis with 2 API processes. Two baselines
are measured in the same run:

- a bare Litestar JSON endpoint (one async POST route answering an envelope of about the size of
  a validation answer) served by uvicorn with the same host, worker count and log level as
  `keyledger serve`, benchmarked with the same wrk settings;
- the rate at which one core signs RSA-4096 (PKCS#1 v1.5, SHA-256), in a fresh process, measured
  for 2 s just before and 2 s just after each RSA round (and, for the record, at the start and end
  of the run).

Targets: Ed25519 validate >= 50% of the bare endpoint's rate at the same connection count;
RSA-4096 validate >= 80% of (one core's RSA-4096 signing rate x API processes). A run with any
non-2xx answer or socket error never meets its target. Each connection count is measured in
interleaved rounds (bare, Ed25519, RSA, then again), and the round with the median rate is shown:
this machine's speed drifts by a fifth from minute to minute, and a drift then touches the
baseline and the measured endpoint alike instead of landing on one of them. The Ed25519 target
is judged on the median of the per-round ratios (each Ed25519 round over the bare round run just
before it, seconds apart), not on the ratio of the two medians: a slow or fast spell that hits
one bare round then moves one ratio, not the baseline of them all. The RSA target is judged the
same way, each RSA round over the mean of the signing rates measured just before and just after it.

Beside each run the table shows where the machine's CPU went while it ran (in cores): the
server's processes (each API process apart), wrk, and everything else on the machine, so a run
disturbed by someone else's test suite can be told from a slow server.

    .venv/bin/python bench/validate.py                  # 3 rounds of 4 s wrk runs, both configurations (~6 min)
    .venv/bin/python bench/validate.py --quick          # 3 rounds of 2 s wrk runs (~3 min)
    .venv/bin/python bench/validate.py --configs embedded --profile /tmp/prof   # + py-spy of the server
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRES_URL = (os.environ.get("KEYLEDGER_BENCH_POSTGRES_URL") or os.environ.get("KEYLEDGER_TEST_POSTGRES_URL")
                or "postgresql://postgres@127.0.0.1:5432/test")
POSTGRES_PORT = urlparse(POSTGRES_URL).port or 5432
REDIS_URL = os.environ.get("KEYLEDGER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
ALGORITHMS = ("ed25519", "rsa-4096")
WRK_THREADS = 2
SIGN_RATE_SECONDS = 2.0  # the signing rate, measured just before and just after each RSA round: its baseline
WRK_TIMEOUT = "10s"  # wrk's default 2 s would drop (and hide) the slow tail of the RSA runs at 128 connections
CLK_TCK = os.sysconf("SC_CLK_TCK")
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = {body}
"""


# --------------------------------------------------------------------------- processes

class Group:
    """A server started in its own process group, so that stopping it reaches every worker it forked."""

    def __init__(self, name: str, command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        self.name = name
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pgid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        """Every live process of the group: the server and, with several workers, its worker processes."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _proc_stat(int(entry))
                if stat is not None and int(stat[2]) == self.pgid:
                    found.append(int(entry))
        return sorted(found)

    def workers(self) -> list[int]:
        """The API processes: uvicorn's spawned workers, or the server itself when it runs alone."""
        spawned = [pid for pid in self.pids() if b"spawn_main" in _cmdline(pid)]
        return spawned or ([self.pgid] if self.process.poll() is None else [])

    def cpu_ticks(self) -> dict[int, int]:
        """utime + stime of each process of the group, in clock ticks."""
        ticks = {}
        for pid in self.pids():
            stat = _proc_stat(pid)
            if stat is not None:
                ticks[pid] = int(stat[11]) + int(stat[12])
        return ticks

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL to whatever is left after 15 s."""
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with suppress(ProcessLookupError):
                os.killpg(self.pgid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if self.process.poll() is not None and not self.pids():
                    self.log.close()
                    return
                time.sleep(0.1)
        self.log.close()


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (so index 0 is the state, 2 the pgrp, 11/12 utime/stime)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres_schema(url: str = POSTGRES_URL, prefix: str = "bench") -> Iterator[str]:
    """A fresh schema of the PostgreSQL at `url`, dropped with everything in it at the end."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def wait_until_up(url: str, group: Group, workers: int) -> None:
    """Answers on `url`, then every worker process exists and has finished starting (the group went idle)."""
    import httpx

    deadline = time.monotonic() + 120
    while True:
        group.check_alive()
        try:
            status = httpx.get(url, timeout=2).status_code
        except httpx.TransportError:
            status = None
        if status == 200:
            break
        if status is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{group.name}: {url} answered {status}:\n{group.output()}")
        time.sleep(0.2)
    idle_since, before = None, group.cpu_ticks()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        group.check_alive()
        now = group.cpu_ticks()
        busy = sum(now.values()) - sum(before.get(pid, 0) for pid in now)
        before = now
        if len(group.workers()) >= workers and busy <= 0.05 * CLK_TCK * len(now):
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= 1.0:
                return
        else:
            idle_since = None
    raise RuntimeError(f"{group.name}: {workers} API processes did not start and settle:\n{group.output()}")


LIMITS = ("KEYLEDGER_RATE_LIMIT_API", "KEYLEDGER_RATE_LIMIT_VALIDATION", "KEYLEDGER_RATE_LIMIT_CLIENT_IP")
UNREACHABLE_LIMIT = str(10**12)  # the limiter counts every call, and refuses none


def keyledger_env(workers: int, database_url: str | None, redis_url: str | None,
                  run_projections: bool, limiter: bool = True) -> dict[str, str]:
    """`keyledger serve`'s environment; with the rate limiter on (at limits no run reaches) or off."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYLEDGER_")}
    env.update({"KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST", "KEYLEDGER_WORKERS": str(workers),
                "KEYLEDGER_LOG_LEVEL": "warning", "KEYLEDGER_RUN_PROJECTIONS": str(run_projections).lower(),
                "KEYLEDGER_RUN_WORKERS": str(run_projections).lower()})  # beside the projector: `keyledger worker`
    env.update({name: UNREACHABLE_LIMIT if limiter else "0" for name in LIMITS})
    if database_url:
        env["KEYLEDGER_DATABASE_URL"] = database_url
    if redis_url:
        env["KEYLEDGER_REDIS_URL"] = redis_url
    return env


def keyledger_server(port: int, data_dir: Path, env: dict[str, str], cwd: Path = ROOT) -> Group:
    """`keyledger serve` of the tree at `cwd` (`python -m` imports the tree it starts in first)."""
    command = [sys.executable, "-m", "keyledger.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(data_dir)]
    return Group("keyledger serve", command, env, cwd)


def keyledger_projector(data_dir: Path, env: dict[str, str], cwd: Path = ROOT) -> Group:
    """`keyledger project` and `keyledger worker` (the feeds, the sweeper, webhooks), in one process group: what
    the production topology runs beside the API processes (docker-compose.yml)."""
    project, worker = (shlex.join([sys.executable, "-m", "keyledger.cli", command]) for command in ("project", "worker"))
    return Group("keyledger project + worker", ["sh", "-c", f"{project} & exec {worker}"],
                 {**env, "KEYLEDGER_DATA_DIR": str(data_dir), "KEYLEDGER_RUN_WORKERS": "true"}, cwd)


def bare_server(port: int, workers: int, data_dir: Path) -> Group:
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYLEDGER_")}
    env["KEYLEDGER_LOG_LEVEL"] = "warning"
    return Group("bare litestar", [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port),
                                   str(workers), str(data_dir)], env)


# --------------------------------------------------------------------------- the bare endpoint

def serve_bare(port: int, workers: int, data_dir: str) -> None:
    """The bare app, served by `keyledger serve` itself (keyledger/cli.py) with only the ASGI app swapped.

    So host, worker count, log level and socket setup stay whatever `keyledger serve` does, today and after
    any change to it; if `_serve` stops handing its app to `keyledger.serving.serve`, the bare server refuses
    to start rather than quietly serving KeyLedger.
    """
    from keyledger import cli, serving

    real_serve = serving.serve

    def serve(app: str, *args: Any, **kwargs: Any) -> None:
        if app != "keyledger.asgi:create":
            raise RuntimeError(f"keyledger serve now runs {app!r}: update bench/validate.py serve_bare")
        real_serve("bench.validate:bare_app", *args, **kwargs)

    serving.serve = serve  # type: ignore[assignment]
    cli.main(["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--data-dir", data_dir])


def bare_app() -> Any:
    """One POST route that decodes a JSON body and answers an envelope of a validation answer's size."""
    from litestar import Litestar, get, post

    filler = {"valid": True, "license": {"type": "lifetime", "expires_at": None, "metadata": {}},
              "watermark": "0" * 64, "timestamp": "2026-01-01T00:00:00.000000+00:00", "key_id": "0" * 16,
              "signature": "A" * 88}

    @post("/api/client/validate", status_code=200)
    async def validate(data: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "data": {**filler, "product_id": data.get("product_id"),
                                          "license_key": data.get("license_key"), "hwid": data.get("hwid")}}

    @get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return Litestar(route_handlers=[validate, health], debug=False)


# --------------------------------------------------------------------------- setup

def prepare(base: str) -> dict[str, dict[str, str]]:
    """A vendor, an Ed25519 and an RSA product, a license each, activated once on the bench device.

    Checks that one validation answers 200 with a signature that verifies under the product's key.
    """
    import httpx

    from keys.signing import load_public_key, verify_answer

    bodies = {}
    with httpx.Client(base_url=base, timeout=60) as http:
        registered = _ok(http.post("/auth/register", json={"email": "bench@example.com", "password": "bench-pass-1"}))
        http.headers["Authorization"] = f"Bearer {registered['token']}"
        for algorithm in ALGORITHMS:
            product = _ok(http.post("/products", json={"name": f"bench {algorithm}", "signing_algorithm": algorithm}))
            license = _ok(http.post("/licenses", json={"product_id": product["id"], "type": "lifetime"}))
            body = {"license_key": license["license_key"], "hwid": "bench-device", "product_id": product["id"]}
            _ok(http.post("/client/activate", json=body))
            answer = _ok(http.post("/client/validate", json=body))
            key = _ok(http.get("/client/public-key", params={"product_id": product["id"]}))
            if answer.get("valid") is not True or key["algorithm"] != algorithm or not verify_answer(
                    load_public_key(key["public_key"]), answer):
                raise RuntimeError(f"validate answered something unexpected for {algorithm}: {answer}")
            bodies[algorithm] = body
    return bodies


def _ok(response: Any) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()["data"]


def answer_size(url: str, body: dict[str, str]) -> int:
    import httpx

    return len(httpx.post(url, json=body, timeout=30).content)


# --------------------------------------------------------------------------- measuring

@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    requests: int
    server_cores: list[tuple[float, int]] = field(default_factory=list)  # (cores, connections) per API process
    wrk_cores: float = 0.0
    db_cores: float = 0.0
    other_cores: float = 0.0
    projector_cores: float | None = None  # None: projections run inside the server
    sign_rate: float | None = None  # RSA rounds: one core's RSA-4096 signing rate, the mean of just before and after

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


class CpuMeter:
    """Cores used during an interval: by the measured server's processes, by wrk, by the databases serving
    them (PostgreSQL backends connected to our processes, PostgreSQL's background processes, Redis), and by
    everything else on the machine (someone else's tests: contention)."""

    def __init__(self, groups: list[Group], measured: Group, projector: Group | None = None) -> None:
        self.groups, self.measured, self.projector = groups, measured, projector
        self.projector_cores = 0.0

    def __enter__(self) -> CpuMeter:
        self.start = time.monotonic()
        self.busy = _machine_busy_ticks()
        self.ours = {group.pgid: group.cpu_ticks() for group in self.groups}
        self.children = _children_ticks()
        self.self_ticks = _self_ticks()
        self.db = db_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.monotonic() - self.start
        busy = _machine_busy_ticks() - self.busy
        ours = 0
        self.per_process: dict[int, float] = {}
        for group in self.groups:
            before, now = self.ours.get(group.pgid, {}), group.cpu_ticks()
            deltas = {pid: ticks - before.get(pid, 0) for pid, ticks in now.items()}
            ours += sum(deltas.values())
            if group is self.measured:
                self.per_process = {pid: delta / CLK_TCK / elapsed for pid, delta in deltas.items()}
            if group is self.projector:
                self.projector_cores = sum(deltas.values()) / CLK_TCK / elapsed
        children = _children_ticks() - self.children
        own = _self_ticks() - self.self_ticks
        ports = _postgres_client_ports([pid for group in self.groups for pid in group.pids()])
        db = 0
        for pid, (cmdline, ticks) in db_ticks().items():
            client = re.search(rb"\((\d+)\)", cmdline)
            if client is None or int(client.group(1)) in ports:  # a background process, or a backend of ours
                db += ticks - self.db.get(pid, (b"", 0))[1]
        self.wrk_cores = children / CLK_TCK / elapsed
        self.db_cores = db / CLK_TCK / elapsed
        self.other_cores = max(0.0, (busy - ours - children - own - db) / CLK_TCK / elapsed)


def db_ticks() -> dict[int, tuple[bytes, int]]:
    """Command line and CPU ticks of every PostgreSQL and Redis server process on the machine."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            cmdline = _cmdline(int(entry))
            if cmdline.startswith((b"postgres", b"redis-server")) or b"/postgres\0" in cmdline:
                stat = _proc_stat(int(entry))
                if stat is not None:
                    found[int(entry)] = (cmdline, int(stat[11]) + int(stat[12]))
    return found


def _socket_owners(pids: list[int]) -> dict[str, int]:
    """Socket inode -> the pid holding it, for these processes."""
    owners = {}
    for pid in pids:
        with suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        owners[link[8:-1]] = pid
    return owners


def _tcp_sockets() -> Iterator[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every TCP socket in this network namespace."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError), open(table) as file:
            for line in file.readlines()[1:]:
                fields = line.split()
                yield (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16), fields[3],
                       fields[9])


def _postgres_client_ports(pids: list[int]) -> set[int]:
    """Local ports of the TCP connections these processes hold to PostgreSQL (its backends show the port)."""
    owners = _socket_owners(pids)
    return {local for local, remote, _, inode in _tcp_sockets() if remote == POSTGRES_PORT and inode in owners}


def connections_by_process(pids: list[int], port: int) -> dict[int, int]:
    """Established client connections on `port` held by each of these processes."""
    owners = _socket_owners(pids)
    counts: Counter[int] = Counter()
    for local, _, state, inode in _tcp_sockets():
        if local == port and state == "01" and inode in owners:
            counts[owners[inode]] += 1
    return dict(counts)


def _machine_busy_ticks() -> int:
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]  # all but idle and iowait


def _children_ticks() -> int:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * CLK_TCK)


def _self_ticks() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round((usage.ru_utime + usage.ru_stime) * CLK_TCK)


def wrk(url: str, body: dict[str, str], connections: int, seconds: float, script_dir: Path,
        midway: Callable[[], Any] | None = None) -> str:
    """wrk's report of one run; `midway` is called half-way through (to look at the server under load)."""
    script = script_dir / "validate.lua"
    script.write_text(LUA.format(body=json.dumps(json.dumps(body))))  # a Lua string literal holding the JSON
    seconds = max(1, round(seconds))
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", WRK_TIMEOUT,
               "--latency", "-s", str(script), url]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            if midway is not None:
                time.sleep(seconds / 2)
                midway()
            out, err = process.communicate(timeout=seconds + 60)
        finally:
            if process.poll() is None:
                process.kill()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err}{out}")
    return out


def parse_wrk(out: str) -> Run:
    def number(pattern: str) -> str:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"no {pattern!r} in wrk's output:\n{out}")
        return match.group(1)

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Run(rps=float(number(r"Requests/sec:\s+([\d.]+)")),
               p50_ms=_ms(number(r"\n\s*50%\s+([\d.]+\w+)")), p99_ms=_ms(number(r"\n\s*99%\s+([\d.]+\w+)")),
               non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
               socket_errors=sum(map(int, sockets.groups())) if sockets else 0,
               requests=int(number(r"(\d+) requests in")))


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[unit]


def measure(url: str, body: dict[str, str], connections: int, seconds: float, groups: list[Group], measured: Group,
            projector: Group | None, script_dir: Path) -> Run:
    port = urlparse(url).port or 80
    workers, held = measured.workers(), {}

    def count_connections() -> None:
        held.update(connections_by_process(workers, port))

    with CpuMeter(groups, measured, projector) as meter:
        out = wrk(url, body, connections, seconds, script_dir, midway=count_connections)
    run = parse_wrk(out)
    run.server_cores = sorted(((meter.per_process.get(pid, 0.0), held.get(pid, 0)) for pid in workers), reverse=True)
    run.wrk_cores, run.db_cores, run.other_cores = meter.wrk_cores, meter.db_cores, meter.other_cores
    if projector is not None:
        run.projector_cores = meter.projector_cores
    elif followers := [pid for pid in meter.per_process if pid not in workers]:  # serve's `keyledger follow`
        run.projector_cores = sum(meter.per_process[pid] for pid in followers)
    return run


def rsa_sign_rate(seconds: float) -> float:
    """RSA-4096 PKCS#1 v1.5 / SHA-256 signatures per second on one core: a fresh process, one thread."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--sign-rate", str(seconds)], cwd=ROOT,
                          capture_output=True, text=True, timeout=seconds + 120, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def sign_rate_here(seconds: float) -> float:
    from keys.canonical import canonical_json
    from keys.signing import generate_rsa_private_pem, load_private_key, sign

    key = load_private_key(generate_rsa_private_pem())
    message = canonical_json({"valid": True, "license": {"type": "lifetime", "expires_at": None, "metadata": {}},
                              "watermark": "0" * 64, "timestamp": "2026-01-01T00:00:00.000000+00:00",
                              "key_id": "0" * 16, "product_id": str(uuid.uuid4()), "license_key": "X" * 29,
                              "hwid": "bench-device"})
    sign(key, message)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sign(key, message)
        count += 1
    return count / (time.perf_counter() - start)


# --------------------------------------------------------------------------- profiling

# Where a sample's time goes. Our own code first: the first of these categories with a matching frame anywhere
# in the stack (so SQLite work under the call log counts as the call log).
OUR_CATEGORIES = (
    ("projector: read models applying events and call records", ("workers/projector.py",)),
    ("expiry sweeper thread", ("workers/expiry.py",)),
    ("signature primitive (keys/signing.py:sign)", ("keys/signing.py:sign",)),
    ("canonical JSON of the answer (keys/canonical.py)", ("keys/canonical.py",)),
    ("call record write: group commit, insert + commit (adapters/call_log.py, batches.py)",
     ("adapters/call_log.py", "adapters/batches.py")),
    ("call record construction (domain/client_call.py:record_call)", ("domain/client_call.py",)),
    ("view catch-up: head read + new notifications (client_view)",
     ("client_view.py:ClientView.catch_up", "client_view.py:ClientView._start_read", "client_view.py:AsyncPostgresHead")),
    ("license/product from the view or repository", ("client_view.py:ClientView.current", "Repository.get")),
    ("key -> license id, blacklist candidates (uuid5)", ("domain/ids.py", "_blacklist_hit", "_license_id")),
    ("licensing rules (domain/validation.py)", ("domain/validation.py",)),
    ("watermark HMAC (keys/watermark.py)", ("keys/watermark.py",)),
    ("body parsing (client_protocol.parse_body, msgspec)", ("client_protocol.py:parse_body",)),
    ("rest of the handler: answer dicts, timestamps, Response", ("api/", "commands/", "domain/", "keys/")),
)
# Then the server around it: the innermost frame that matches one of these.
SERVER_CATEGORIES = (
    ("thread hops (anyio, thread pools, locks)", ("anyio/", "concurrent/futures", "threading.py")),
    ("uvicorn + h11: HTTP/1.1 parsing and writing", ("h11/", "httptools", "uvicorn/protocols/http")),
    ("Litestar: routing, DI, kwargs, response encoding", ("litestar/", "msgspec", "uvicorn/middleware")),
    ("asyncio event loop, sockets", ("asyncio/", "selectors.py", "socket.py")),
)


def profile(group: Group, projector: Group | None, url: str, body: dict[str, str], connections: int,
            seconds: float, out_dir: Path, name: str, script_dir: Path) -> None:
    """py-spy every API process (and the projector process) under wrk load, sampling the GIL holder only.

    A Python process is bound by its GIL: GIL-held samples say what each request costs in the one resource a
    process cannot get more of. C code that releases the GIL (RSA signing, SQLite's and libpq's own work,
    fsync) runs beside it and does not show here. Samples of all API processes are added up and divided by
    all the requests, so the figures hold however unevenly the connections were spread.
    """
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print(f"  (no py-spy: skipping the profile of {name}; pip install py-spy)", flush=True)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    rate, duration = 250, max(1, round(seconds))
    targets = [("api", pid) for pid in group.workers()]
    if projector is not None:
        targets += [("projector", pid) for pid in projector.pids()]
    spies = []
    try:
        for role, pid in targets:
            output = out_dir / f"{name}-{role}-{pid}.txt"
            command = [py_spy, "record", "--gil", "--nonblocking", "--rate", str(rate), "--format", "raw",
                       "--duration", str(duration), "--output", str(output), "--pid", str(pid)]
            spies.append((role, output, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                         text=True)))
        time.sleep(0.5)
        run = parse_wrk(wrk(url, body, connections, duration + 1, script_dir))
        stacks: dict[str, list[str]] = {"api": [], "projector": []}
        for role, output, spy in spies:
            _, err = spy.communicate(timeout=duration + 60)
            if output.exists():
                stacks[role] += output.read_text().splitlines()
            else:
                print(f"  py-spy failed for {name} ({role}): {err[-300:]}", flush=True)
    finally:
        for _, _, spy in spies:
            if spy.poll() is None:
                spy.kill()
    requests = run.rps * duration
    print(f"\nprofile {name}: {run.rps:,.0f} req/s while sampled; GIL-held samples (py-spy --gil, {rate} Hz) of "
          f"{len(group.workers())} API process(es); collapsed stacks in {out_dir}/{name}-*.txt")
    print_profile(stacks["api"], rate, requests)
    if projector is not None:
        print("  ... and of the `keyledger project` process, per API request:")
        print_profile(stacks["projector"], rate, requests, top=5)


def print_profile(lines: list[str], rate: float, requests: float, top: int = 12) -> None:
    """GIL time by category (ms of GIL per request) and the functions with the most self time."""
    own: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";")[1:]]  # the first frame names the thread
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        categories[_category(frames)] += count
    if not total:
        print("  (no samples)")
        return
    per_request = 1000 * total / rate / max(requests, 1)
    print(f"  {total} samples = {total / rate:.1f} s of GIL for ~{requests:,.0f} requests: "
          f"{per_request:.2f} ms of GIL per request")
    print("    share   ms/req  where")
    for category, count in categories.most_common():
        print(f"   {100 * count / total:5.1f}%  {per_request * count / total:6.3f}  {category}")
    print("  functions with the most self time:")
    for frame, count in own.most_common(top):
        print(f"   {100 * count / total:5.1f}%  {frame}")


def _category(frames: list[str]) -> str:
    for category, patterns in OUR_CATEGORIES:
        if any(pattern in frame for frame in frames for pattern in patterns):
            return category
    for frame in reversed(frames):
        for category, patterns in SERVER_CATEGORIES:
            if any(pattern in frame for pattern in patterns):
                return category
    return "other"


def _frame(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `path/file.py:func`, site-packages and the repo root stripped."""
    match = re.fullmatch(r"(.*) \((.*?)(?::\d+)?\)", frame)
    if match is None:
        return frame
    function, path = match.groups()
    for prefix in ("site-packages/", str(ROOT) + "/", "lib/python3"):
        if prefix in path:
            path = path.split(prefix, 1)[1]
    path = re.sub(r"^\.\d+/", "", path)  # lib/python3.11/asyncio -> asyncio
    return f"{path}:{function}"


# --------------------------------------------------------------------------- one configuration

@dataclass
class Measured:
    config: str
    endpoint: str
    connections: int
    run: Run
    kind: str  # "bare", "ed25519", "rsa-4096", or the limiter's twins "ed25519-limited" and "ed25519-unlimited"
    rounds: list[Run] = field(default_factory=list)  # every round, in the order run


def run_config(name: str, workers: int, database_url: str | None, redis_url: str | None, seconds: float,
               warmup: float, connection_counts: list[int], profile_dir: Path | None, rounds: int) -> list[Measured]:
    """One configuration. Embedded: `keyledger serve` alone (projections in process). PostgreSQL: as
    docker-compose.yml runs it, API processes with KEYLEDGER_RUN_PROJECTIONS=false beside `keyledger project`.

    The server measured runs with the rate limiter on. Beside it two twins answer Ed25519 validations only, one
    with the limiter on and one with it off (on PostgreSQL they share the database and projector; embedded,
    each has a data dir of its own), measured round by round in alternating order: the limiter's cost is
    theirs, so neither side is the server that also answers the RSA rows."""
    rows: list[Measured] = []
    groups: list[Group] = []
    separate_projector = database_url is not None
    with tempfile.TemporaryDirectory(prefix="klbench_validate_") as tmp:
        try:
            port, bare_port, data_dir = free_port(), free_port(), Path(tmp) / "var"
            env = keyledger_env(workers, database_url, redis_url, run_projections=not separate_projector)
            server = keyledger_server(port, data_dir, env)
            groups.append(server)
            bare = bare_server(bare_port, workers, Path(tmp) / "bare")
            groups.append(bare)
            wait_until_up(f"http://127.0.0.1:{port}/api/client/public-key", server, workers)
            projector = None
            if separate_projector:  # after the server: it creates the data dir's keys and the tables
                projector = keyledger_projector(data_dir, env)
                groups.append(projector)
            wait_until_up(f"http://127.0.0.1:{bare_port}/health", bare, workers)
            bodies = prepare(f"http://127.0.0.1:{port}/api")
            twins: dict[str, tuple[Group, int, dict[str, str]]] = {}
            for kind, limits in (("ed25519-limited", {}), ("ed25519-unlimited", {name: "0" for name in LIMITS})):
                twin_port = free_port()
                twin = keyledger_server(twin_port, data_dir if separate_projector else Path(tmp) / kind,
                                        {**env, **limits})
                groups.append(twin)
                wait_until_up(f"http://127.0.0.1:{twin_port}/api/client/public-key", twin, workers)
                twin_body = bodies["ed25519"] if separate_projector else prepare(
                    f"http://127.0.0.1:{twin_port}/api")["ed25519"]
                twins[kind] = twin, twin_port, twin_body
            urls = {"bare": f"http://127.0.0.1:{bare_port}/api/client/validate",
                    "ed25519": f"http://127.0.0.1:{port}/api/client/validate",
                    **{kind: f"http://127.0.0.1:{twin_port}/api/client/validate"
                       for kind, (_, twin_port, _) in twins.items()},
                    "rsa-4096": f"http://127.0.0.1:{port}/api/client/validate"}
            targets = {"bare": bare, "ed25519": server, **{kind: twin for kind, (twin, _, _) in twins.items()},
                       "rsa-4096": server}
            body_of = {"bare": bodies["ed25519"], **bodies, **{kind: body for kind, (_, _, body) in twins.items()}}
            sizes = ", ".join(f"{kind} {answer_size(urls[kind], body_of[kind])} B" for kind in urls)
            print(f"{name}: answer sizes {sizes}; API processes {len(server.workers())}"
                  f"{'; projections in `keyledger project`' if projector else '; projections in process'}", flush=True)
            script_dir = Path(tmp)
            for kind in urls:  # warm up every endpoint once (imports, caches, connection pools)
                wrk(urls[kind], body_of[kind], max(connection_counts), warmup, script_dir)
            for connections in connection_counts:
                rounds_of: dict[str, list[Run]] = {kind: [] for kind in urls}
                for index in range(rounds):  # interleaved: a drift in the machine's speed touches every kind alike
                    for kind in in_round(list(urls), index):
                        settle([server, *(twin for twin, _, _ in twins.values()), *([projector] if projector else [])])
                        before = rsa_sign_rate(SIGN_RATE_SECONDS) if kind == "rsa-4096" else None
                        run = measure(urls[kind], body_of[kind], connections, seconds, groups, targets[kind],
                                      projector, script_dir)
                        # The machine's speed drifts within seconds: the rates on both sides of the round bracket it.
                        sign_rate = None if before is None else (before + rsa_sign_rate(SIGN_RATE_SECONDS)) / 2
                        rounds_of[kind].append(replace(run, sign_rate=sign_rate))
                for kind in urls:
                    run = median_run(rounds_of[kind])
                    endpoint = {"bare": "bare litestar", "ed25519-limited": "ed25519 twin, limiter on",
                                "ed25519-unlimited": "ed25519 twin, limiter off"}.get(kind, f"validate {kind}")
                    rows.append(Measured(name, endpoint, connections, run, kind, rounds_of[kind]))
                    print(f"  {endpoint:29} c={connections:<4} {run.rps:8,.0f} req/s  p50 {run.p50_ms:7.1f} ms  "
                          f"p99 {run.p99_ms:7.1f} ms  errors {run.errors}  other load {run.other_cores:.2f} cores  "
                          f"(rounds: {', '.join(f'{r.rps:,.0f}' for r in rounds_of[kind])})"
                          + (f"; one core signed {', '.join(f'{r.sign_rate:,.0f}' for r in rounds_of[kind])} RSA/s"
                             " around each" if kind == "rsa-4096" else ""), flush=True)
            if profile_dir is not None:
                slug = "postgres" if separate_projector else "embedded"
                for kind in ("bare", "ed25519", "rsa-4096"):
                    settle([server, *([projector] if projector else [])])
                    profile(targets[kind], projector if kind != "bare" else None, urls[kind], body_of[kind],
                            connection_counts[0], seconds, profile_dir, f"{slug}-{kind}", script_dir)
        finally:
            for group in reversed(groups):
                group.stop()
    return rows


def in_round(kinds: list[str], index: int) -> list[str]:
    """The kinds in the order round `index` runs them: the limiter's twins (on, then off) swap every other
    round, so neither always runs straight after the same row."""
    if index % 2 and "ed25519-unlimited" in kinds:
        on, off = kinds.index("ed25519-limited"), kinds.index("ed25519-unlimited")
        kinds[on], kinds[off] = kinds[off], kinds[on]
    return kinds


def median_run(runs: list[Run]) -> Run:
    """The round with the median rate (its latencies and CPU figures with it), carrying every round's errors."""
    middle = sorted(runs, key=lambda run: run.rps)[len(runs) // 2]
    return replace(middle, non_2xx=sum(run.non_2xx for run in runs),
                   socket_errors=sum(run.socket_errors for run in runs))


def settle(groups: list[Group], timeout: float = 20.0) -> None:
    """Wait (bounded) until these processes are idle: the projector has caught up on the last run's records."""
    deadline = time.monotonic() + timeout
    before = {group.pgid: group.cpu_ticks() for group in groups}
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = {group.pgid: group.cpu_ticks() for group in groups}
        busy = sum(t - before[g].get(pid, 0) for g, ticks in now.items() for pid, t in ticks.items())
        before = now
        if busy <= 0.05 * CLK_TCK * max(1, sum(len(ticks) for ticks in now.values())):
            return


# --------------------------------------------------------------------------- report

def table(rows: list[Measured], workers_of: dict[str, int], sign_rate: float) -> tuple[list[list[str]], list[str]]:
    header = ["config", "endpoint", "conns", "req/s", "p50", "p99", "errors", "target", "of baseline", "met?",
              "server CPU (conns)", "proj CPU", "wrk CPU", "db CPU", "other CPU"]
    lines = [header]
    misses = []
    bare = {(row.config, row.connections): row for row in rows if row.kind == "bare"}
    for row in rows:
        run, target, share, needed = row.run, None, None, None
        if row.kind == "ed25519" and (row.config, row.connections) in bare:
            baseline = bare[(row.config, row.connections)]
            target, needed = 0.5 * baseline.run.rps, 0.5
            share = paired_share(row.rounds, [base.rps for base in baseline.rounds])
        elif row.kind == "rsa-4096":
            workers = workers_of[row.config]
            rates = [r.sign_rate or sign_rate for r in row.rounds]
            target, needed = 0.8 * _median(rates) * workers, 0.8
            share = paired_share(row.rounds, [rate * workers for rate in rates])
        errors = str(run.errors) if not run.errors else f"{run.errors} !"
        met = "-"
        if share is not None and needed is not None:
            met = "yes" if share >= needed and not run.errors else "NO"
            if met == "NO":
                why = f"{run.errors} errors" if run.errors else f"{share / needed:.0%} of target"
                misses.append(f"{row.config} {row.endpoint} c={row.connections}: {why}")
        lines.append([row.config, row.endpoint, str(row.connections), f"{run.rps:,.0f}", f"{run.p50_ms:.1f} ms",
                      f"{run.p99_ms:.1f} ms", errors, "-" if target is None else f"{target:,.0f}",
                      "-" if share is None else f"{share:.0%} (>= {needed:.0%})", met,
                      " + ".join(f"{cores:.2f} ({held})" for cores, held in run.server_cores),
                      "in server" if run.projector_cores is None else f"{run.projector_cores:.2f}",
                      f"{run.wrk_cores:.2f}", f"{run.db_cores:.2f}", f"{run.other_cores:.2f}"])
    return lines, misses


LIMITER_COST = 0.10
"""The most the rate limiter may cost a validation: Ed25519 with the limiter on, against off, paired by round."""


def limiter_costs(rows: list[Measured]) -> tuple[list[str], list[str]]:
    """Per configuration and connection count, the limiter's cost two ways, median over the rounds of the round
    with it on against the round with it off run seconds later: the rate lost, 1 - (on / off), and the CPU a
    validation took (our server, projector, PostgreSQL and Redis cores over the rate), 1 - (off / on). The
    target is judged on the CPU: a saturated 2-core machine hands its cores to two servers unevenly from one
    round to the next, which moves their rates more than the limiter does, and not their CPU per validation."""
    unlimited = {(row.config, row.connections): row for row in rows if row.kind == "ed25519-unlimited"}
    lines, misses = [], []
    for row in rows:
        if row.kind == "ed25519-limited" and (row.config, row.connections) in unlimited:
            off = unlimited[(row.config, row.connections)]
            rate_cost = 1 - paired_share(row.rounds, [run.rps for run in off.rounds])
            shares = [cpu_per_request(run_off) / cpu_per_request(run_on)
                      for run_on, run_off in zip(row.rounds, off.rounds, strict=True) if run_on.rps and run_off.rps]
            cost = 1 - _median(shares) if shares else 1.0
            met = cost < LIMITER_COST and not row.run.errors and not off.run.errors
            lines.append(f"{row.config} c={row.connections}: limiter on {row.run.rps:,.0f} req/s, off "
                         f"{off.run.rps:,.0f} req/s (rate {rate_cost:.1%} lower); CPU a validation on "
                         f"{_median([cpu_per_request(r) for r in row.rounds]) * 1e6:,.0f} µs, off "
                         f"{_median([cpu_per_request(r) for r in off.rounds]) * 1e6:,.0f} µs: costs {cost:.1%} "
                         f"(< {LIMITER_COST:.0%}: {'yes' if met else 'NO'})")
            if not met:
                misses.append(f"{row.config} rate limiter c={row.connections}: costs {cost:.1%} of a validation's CPU")
    return lines, misses


def cpu_per_request(run: Run) -> float:
    """Seconds of CPU one answer took: the measured server's processes, its projector and the databases."""
    cores = sum(cores for cores, _ in run.server_cores) + (run.projector_cores or 0.0) + run.db_cores
    return cores / run.rps if run.rps else 0.0


def paired_share(measured: list[Run], baseline_rates: list[float]) -> float:
    """The median over rounds of measured rate / the baseline's rate in the same round (measured seconds before)."""
    shares = [run.rps / rate for run, rate in zip(measured, baseline_rates, strict=True) if rate]
    return _median(shares) if shares else 0.0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def print_table(lines: list[list[str]]) -> None:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for index, line in enumerate(lines):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            print("-|-".join("-" * width for width in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per wrk run instead of 8")
    parser.add_argument("--seconds", type=int, help="seconds per measured wrk run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per connection count (bare, Ed25519, RSA, again...); the median counts")
    parser.add_argument("--configs", default="embedded,postgres", help="embedded, postgres or both (comma)")
    parser.add_argument("--connections", default="32,128", help="wrk connection counts (comma)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="after the measured runs, py-spy the server under load and summarise the top costs")
    parser.add_argument("--serve-bare", nargs=3, metavar=("PORT", "WORKERS", "DATA_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--sign-rate", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), int(args.serve_bare[1]), args.serve_bare[2])
        return 0
    if args.sign_rate:
        print(sign_rate_here(args.sign_rate))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout, kill PID) unwinds through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seconds = args.seconds or (2.0 if args.quick else 4.0)
    warmup = 1.0 if args.quick else 2.0
    connection_counts = [int(c) for c in args.connections.split(",")]
    configs = [c.strip() for c in args.configs.split(",")]
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start; "
          f"wrk -t{WRK_THREADS} -d{seconds:g}s --timeout {WRK_TIMEOUT}, median of {args.rounds} interleaved rounds",
          flush=True)
    rates = [rsa_sign_rate(3.0)]
    print(f"one core signs {rates[0]:,.0f} RSA-4096 signatures/s", flush=True)
    rows: list[Measured] = []
    workers_of: dict[str, int] = {}
    if "embedded" in configs:
        name = "embedded (sqlite, 1 proc)"
        workers_of[name] = 1
        rows += run_config(name, 1, None, None, seconds, warmup, connection_counts, args.profile, args.rounds)
    if "postgres" in configs:
        name = "postgres+redis, 2 procs"
        workers_of[name] = 2
        with postgres_schema() as schema:
            rows += run_config(name, 2, f"{POSTGRES_URL}?schema={schema}", REDIS_URL, seconds, warmup,
                               connection_counts, args.profile, args.rounds)
    rates.append(rsa_sign_rate(3.0))
    sign_rate = max(rates)
    print(f"\none core signs {rates[0]:,.0f} (start) / {rates[1]:,.0f} (end) RSA-4096 signatures/s; each RSA round is "
          f"judged against the mean of the rates measured just before and just after it; load average {os.getloadavg()[0]:.2f} at the end\n")
    lines, misses = table(rows, workers_of, sign_rate)
    print_table(lines)
    print("\nCPU columns: cores busy during the run. server: each API process of the measured server, busiest first, with the connections it held half-way; proj: the `keyledger project` and `keyledger worker` processes (embedded: the `keyledger follow` child of serve); "
          "db: PostgreSQL backends of ours + PostgreSQL background processes + Redis; other: everything else on "
          "the machine (contention).")
    costs, limiter_misses = limiter_costs(rows)
    print("\nThe rate limiter's cost (Ed25519 validations, each round with it on against the round with it off, median):")
    print("\n".join("  " + line for line in costs))
    misses += limiter_misses
    if misses:
        print("targets missed: " + "; ".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
