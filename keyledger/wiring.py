"""Build the write side, read side, keys and projector for one configuration."""

from __future__ import annotations

import fcntl
import glob
import hashlib
import logging
import os
import secrets
import signal
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from adapters import call_log, client_link
from adapters.aggregate_cache import SizedLRUCache
from adapters.answers import AnswerTable
from adapters.counters import MemoryCounters, RedisCounters
from adapters.call_log import CallLog, CallTable, PostgresCallStore, call_store_for
from adapters.ephemeral import MemoryStore, RedisStore
from adapters.event_feed import Bell, StoreFeed
from adapters.heads import events_table, head_reader
from adapters.signer import AnswerSigner
from adapters.wakeups import StoreNotifications
from adapters.webhook_http import UrlGuard, WebhookPoster
from api.ports import EphemeralStore
from commands.client_gate import ClientGate
from commands.client_view import SizedCache
from commands.ledger import Ledger
from commands.ports import CallStore, ClientPlumbing, HeadSource
from domain.product import SigningAlgorithm
from keyledger.audit import Audit, build_audit
from keyledger.settings import Settings
from keys.files import load_or_create
from keys.passwords import Passwords
from keys.secrets import Sealer, decode_master_key, new_master_key
from keys.signing import SigningKey, load_or_create_signing_key, sign
from projections.base import ReadModelsBehindError
from projections.feeding import AdvisoryFeedingLock, FeedingLock, FileFeedingLock
from projections.db import PostgresReadStore, ReadStore, SQLiteReadStore, unreachable
from projections.migrations import migrate
from projections.registry import build_projections
from projections.base import ProjectionView
from projections.event_stream import FOLLOWS as STREAM_FOLLOWS
from workers.deliveries import Deliverer, DeliveryPool
from workers.projector import Projector
from workers.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Counters = MemoryCounters | RedisCounters


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class Runtime:
    """Everything a KeyLedger process runs on; the API receives it as api/ports.py's Services.

    A plain class, not a dataclass: Litestar would otherwise walk its fields as a schema.
    """

    def __init__(self, settings: Settings, ledger: Ledger, store: ReadStore, projector: Projector,
                 master_key: bytes, jwt_secret: bytes, signing_keys: dict[SigningAlgorithm, SigningKey],
                 ephemeral: EphemeralStore, answers: AnswerTable, clock: Clock = system_clock,
                 counters: Counters | None = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.gate = ClientGate(ledger)  # the validate route's decisions (commands/client_gate.py)
        self.store = store
        self.calls = _call_table(ledger)
        self.projector = projector
        self.master_key = master_key
        self.jwt_secret = jwt_secret
        self.signing_keys = signing_keys
        self.ephemeral = ephemeral
        self.counters = counters if counters is not None else MemoryCounters()
        self.clock = clock
        self.answers = answers
        self._notifications: StoreNotifications | None = None
        self.signer = AnswerSigner(sign, settings.workers, SIGNING_CHILD if settings.helper_processes else None)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._delivery_pool: DeliveryPool | None = None
        self.webhook_poster = WebhookPoster(settings.webhook_allow_private, settings.webhook_timeout,
                                            webhook_hosts(settings))
        ledger.check_webhook_url = UrlGuard(settings.webhook_allow_private, webhook_hosts(settings))
        self.deliverer = Deliverer(store, ledger, self.webhook_poster, clock, settings.webhook_disable_after,
                                   timedelta(seconds=settings.webhook_timeout + 5))
        self.enqueue_deliveries: Callable[[list[str]], None] = lambda _: None  # the sweep finds them
        self.dispatcher = Projector(ledger, [WebhookDispatcher(ProjectionView(store, WebhookDispatcher.name),
                                                               events_between(ledger), self._enqueue)])
        self.audit: Audit | None = None  # the audit chain (keyledger/audit.py), set by build_runtime
        self.events = StoreFeed(ledger.recorder, ledger.mapper, Bell(), self._listen)  # the live event stream's
        _ring_on_advance(projector, STREAM_FOLLOWS, self.events.bell)

    def _enqueue(self, delivery_ids: list[str]) -> None:
        self.enqueue_deliveries(delivery_ids)

    def follow_call_log(self) -> int:
        """Bring the read models the client call log feeds (security events, time series) up to its head, as
        their worker threads do each second; `keyledger rebuild` runs it after replaying the event store."""
        from workers.call_feeds import feed_calls
        from workers.security_feed import security_events_projection
        from workers.timeseries_feed import timeseries_projection

        projections = self.projector.projections
        return feed_calls(security_events_projection(projections), timeseries_projection(projections),
                          self.ledger.calls.store, self.clock(), self.ledger.raise_call_alerts,
                          self.settings.security_info_retention)

    def start_workers(self, deliver_in_process: bool = True) -> None:
        """The in-process workers: the expiry sweeper, the security-event and time-series feeds (unless another
        process follows the call log), the webhook dispatcher, and (unless arq delivers them,
        `run_arq_delivery`) webhook delivery on an in-process queue."""
        from workers.expiry import run_sweeper

        args = (self.ledger, self.store, self.clock, self._stop, self.settings.sweep_interval,
                self.settings.webhook_log_days, self.settings.security_info_days)
        self._start_thread(run_sweeper, args, "expiry-sweeper")
        if self.settings.run_call_followers:
            self.start_followers(audit=False, feeds=True)
        self.start_dispatcher()
        if not deliver_in_process:
            return
        pool = DeliveryPool(self.deliverer, WEBHOOK_THREADS, self.settings.webhook_sweep_interval, self._stop)
        self._delivery_pool = pool
        self.enqueue_deliveries = pool.enqueue
        self._threads.extend(pool.start().threads)

    def start_followers(self, audit: bool, feeds: bool) -> None:
        """Follow the client call log here: the audit chain's keeper (beside the projector, or in `keyledger
        follow`), the security-event and time-series feeds (beside the workers, or there), or both."""
        from workers.call_feeds import run_call_feeds
        from workers.security_feed import security_events_projection
        from workers.timeseries_feed import timeseries_projection

        if audit and self.audit is not None:
            self.audit.keeper.start()
        if not feeds:
            return
        projections = self.projector.projections
        self._start_thread(run_call_feeds, (security_events_projection(projections), timeseries_projection(projections),
                                            self.ledger.calls.store, self.clock, self._stop,
                                            self.ledger.raise_call_alerts, self.settings.security_info_retention),
                           "call-feeds")

    def _start_thread(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def run_arq_delivery(self) -> None:
        """Deliver webhooks as arq jobs on Redis until SIGTERM or SIGINT (`keyledger worker` with Redis)."""
        from workers.webhook_jobs import ArqDelivery

        arq = ArqDelivery(self.deliverer, self.settings.redis_url or "", self.settings.webhook_sweep_interval,
                          self.settings.webhook_timeout + 10, f"keyledger:webhooks:{deployment_tag(self.settings)}")
        self.enqueue_deliveries = arq.enqueue
        arq.run()

    def start_dispatcher(self) -> None:
        """Follow the event store into webhook deliveries; on PostgreSQL, woken by every append."""
        self._listen()
        self.dispatcher.start()

    def _listen(self) -> None:
        """On PostgreSQL, one connection per process listens for appends and wakes its projector and its
        webhook dispatcher (whichever of them run here)."""
        if self.settings.is_postgres and self._notifications is None:
            channel = self.ledger.recorder.channel_name  # eventsourcing NOTIFYs it with each append
            self._notifications = StoreNotifications(postgres_conninfo(self.settings), channel, self._wake).start()
            self.projector.poll = self.dispatcher.poll = NOTIFIED_POLL

    def _wake(self) -> None:
        self.projector.wake()
        self.dispatcher.wake()
        self.events.bell.ring()

    def end_streams_on_exit_signals(self) -> None:
        """uvicorn waits for every open answer to end before it shuts the app down (and calls `close`): on SIGTERM
        or SIGINT, end the event streams first, then do what uvicorn's own handler does. Main thread only."""
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)
            if callable(previous):
                signal.signal(number, _ending_streams_first(self.events.close, previous))

    def wait_for_dispatch(self, position: int) -> None:
        """Wait (bounded) until the webhook dispatcher has taken `position` (a replay or retry request)."""
        try:
            self.dispatcher.wait(position, timeout=self.settings.consistency_timeout)
        except TimeoutError:
            raise ReadModelsBehindError(position) from None

    def wait_for(self, position: int, models: Collection[str] | None = None, timeout: float | None = None) -> None:
        """Read-your-writes: wait until the read models in `models` (all without) have seen `position`, within one
        deadline (`timeout`, else the consistency timeout). Past it, or with them unreachable, ReadModelsBehindError
        (the API answers 503 with Retry-After, decision 0009); the change itself stays recorded."""
        timeout = self.settings.consistency_timeout if timeout is None else timeout
        self.dispatcher.wake()  # a change a vendor made: its webhooks go out without waiting for the next poll
        try:
            self.projector.wait(position, timeout, models)
        except TimeoutError:
            log.warning("read models have not reached position %s in %ss", position, timeout)
            raise ReadModelsBehindError(position) from None
        except Exception as error:
            if not unreachable(error):
                raise
            log.warning("read models unreachable after position %s: %s", position, error)
            raise ReadModelsBehindError(position, unreachable=True) from error  # the change is recorded all the same

    def read_model_status(self) -> list[dict[str, Any]]:
        """Each read model's position and the events it passed over (workers/projector.py)."""
        return self.projector.status()

    def start_projector(self) -> None:
        """Project in this process; on PostgreSQL, woken by every append, whichever process made it."""
        self._listen()
        self.projector.start()
        if self.settings.run_call_followers:
            self.start_followers(audit=True, feeds=False)

    def close(self) -> None:
        """Stop every background thread, waiting SHUTDOWN_SECONDS for all of them together, then close."""
        self._stop.set()
        self.events.close()
        keepers = [self.dispatcher, self.projector] + ([self.audit.keeper] if self.audit is not None else [])
        for keeper in keepers:
            keeper.halt()
        if self._delivery_pool is not None:
            self._delivery_pool.halt()
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._notifications is not None:
            self._notifications.close()
        for keeper in keepers:
            keeper.stop(max(0.0, deadline - time.monotonic()))
        self.webhook_poster.close()
        self.signer.close()
        if isinstance(self.counters, RedisCounters):
            self.counters.close()
        self.store.close()
        self.ledger.close()


def _ring_on_advance(projector: Projector, name: str, bell: Bell) -> None:
    """Ring `bell` whenever this process's projector moves read model `name` (the event stream follows it)."""
    for projection in projector.projections:
        if projection.name == name:
            advanced = projection.view.notify_advanced

            def ring() -> None:
                advanced()
                bell.ring()

            projection.view.notify_advanced = ring  # type: ignore[method-assign]


def _ending_streams_first(end_streams: Callable[[], None], handler: Callable[..., Any]) -> Callable[..., Any]:
    def handle(number: int, frame: Any) -> Any:
        end_streams()
        return handler(number, frame)
    return handle


def _call_table(ledger: Ledger) -> CallTable:
    """The call log's table, which the license logs read (client_plumbing gave the ledger a CallLog)."""
    if not isinstance(ledger.calls, CallLog):
        raise TypeError(f"the ledger's call log is a {type(ledger.calls).__name__}, not the wiring's CallLog")
    return ledger.calls.store


NOTIFIED_POLL = 1.0
"""Seconds between a projector's polls where every append wakes it (PostgreSQL's notifications): only a
notification lost while the listening connection was down waits for one (SQLite's projectors poll every 0.05 s)."""
SHUTDOWN_SECONDS = 5.0
"""How long closing waits for the background threads, all together. Their work commits with its tracking
row, so one still busy (on a connection being retried, say) may die with the process; supervisors such as
Docker and systemd kill a process that has not exited 10 s after SIGTERM."""

WEBHOOK_THREADS = 4
"""Threads delivering webhooks in the embedded default (each waits on one endpoint at a time)."""


def webhook_hosts(settings: Settings) -> frozenset[str] | None:
    if not settings.webhook_hosts:
        return None
    return frozenset(host.strip().lower() for host in settings.webhook_hosts.split(",") if host.strip())


def events_between(ledger: Ledger) -> Callable[[int, int], Iterator[tuple[int, Any]]]:
    """Read the store's events in (after, upto], in order, a page at a time (a webhook replay's source)."""
    def read(after: int, upto: int) -> Iterator[tuple[int, Any]]:
        while after < upto:
            page = ledger.recorder.select_notifications(start=after, limit=500, stop=upto, inclusive_of_start=False)
            if not page:
                return
            for notification in page:
                yield notification.id, ledger.mapper.to_domain_event(notification)
            after = page[-1].id
    return read


def postgres_parts(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    query = parse_qs(parsed.query)
    return {
        "dbname": parsed.path.lstrip("/") or "postgres",
        "host": parsed.hostname or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
        "schema": query.get("schema", [""])[0],
    }


CACHED_AGGREGATES = 20_000
# Cached aggregates are fast-forwarded from the store on every read, so they are never stale.
CACHE_ENV = {"AGGREGATE_CACHE_MAXSIZE": str(CACHED_AGGREGATES), "AGGREGATE_CACHE_FASTFORWARD": "y"}


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    return {**CACHE_ENV, **_store_env(settings)}


KEPT_OPEN = 2
"""Connections the event store's pool keeps open while idle; it opens more, up to `database_pool`, as needed."""
CONNECTIONS_BESIDE_POOLS = call_log.READ_CONNECTIONS + 1 + client_link.IN_FLIGHT + 1 + 1
"""What a process opens on PostgreSQL beside its two pools (7): the call log's reads and its writer thread's one,
the client link's lanes, the projection lock's one (projections/feeding.py), and where a projector, the webhook
dispatcher or an event stream runs, the one listening for appends (adapters/wakeups.py)."""


def _store_env(settings: Settings) -> dict[str, str]:
    if settings.is_postgres:
        pg = postgres_parts(settings.database_url or "")
        # Appends to the event store are serialised by its table lock, so connections past a few buy a
        # process no throughput; past the pool, a caller waits for a connection (POSTGRES_CONNECT_TIMEOUT,
        # 30 s) instead of PostgreSQL refusing one at max_connections.
        kept = min(KEPT_OPEN, settings.database_pool)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg["dbname"], "POSTGRES_HOST": pg["host"], "POSTGRES_PORT": pg["port"],
            "POSTGRES_USER": pg["user"], "POSTGRES_PASSWORD": pg["password"], "POSTGRES_POOL_SIZE": str(kept),
            "POSTGRES_MAX_OVERFLOW": str(settings.database_pool - kept), "POSTGRES_LOCK_TIMEOUT": "5",
        }
        if pg["schema"]:
            env["POSTGRES_SCHEMA"] = pg["schema"]
        return env
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path), "SQLITE_LOCK_TIMEOUT": "10"}


def postgres_conninfo(settings: Settings) -> str:
    """The conninfo every PostgreSQL connection of ours uses: the event store's own settings, as the call log
    reads them (adapters/call_log.py)."""
    return call_log.conninfo_of(_store_env(settings))


def feeding_lock(settings: Settings) -> FeedingLock:
    """What keeps a rebuild and the projectors of other processes apart (projections/feeding.py)."""
    if settings.is_postgres:
        schema = postgres_parts(settings.database_url or "")["schema"]
        return AdvisoryFeedingLock(postgres_conninfo(settings), schema or None)
    return FileFeedingLock(beside_store(settings, ".projecting.lock"))


def build_read_store(settings: Settings) -> ReadStore:
    if settings.is_postgres:
        schema = postgres_parts(settings.database_url or "")["schema"]
        return PostgresReadStore(postgres_conninfo(settings), schema=schema or None, max_size=settings.database_pool)
    return SQLiteReadStore(read_models_path(settings))


def beside_store(settings: Settings, suffix: str) -> Path:
    """A file named after the embedded event store (`events` + suffix), beside it; `_private_paths` keeps
    every such file owner-only."""
    return settings.sqlite_path.with_name(settings.sqlite_path.stem + suffix)


def read_models_path(settings: Settings) -> Path:
    return beside_store(settings, ".read.sqlite3")


def sqlite_files(settings: Settings) -> list[Path]:
    """The SQLite databases of the embedded default: the event store, the read models, and the call log
    (which adapters/call_log.py's call_store_for names after the event store)."""
    store = settings.sqlite_path
    return [store, read_models_path(settings), beside_store(settings, ".calls" + store.suffix)]


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_data_private(settings: Settings) -> None:
    """The data dir holds every license key, password hash and signing key: it is the owner's alone (0700, files
    0600), and what an earlier start left open is tightened, with one line in the log. The SQLite databases are
    created here, empty and 0600, before anything opens them: their -wal and -shm files take the database's mode."""
    settings.data_path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tightened = [str(path) for path in _private_paths(settings) if _tighten(path)]
    if tightened:
        log.warning("made owner-only what others could read: %s", ", ".join(tightened))
    if not settings.is_postgres:
        settings.sqlite_path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        for path in sqlite_files(settings):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
            except FileExistsError:
                pass


def _private_paths(settings: Settings) -> Iterator[Path]:
    """The data dir, its keys, and every file named after the event store (`events.*`: the databases, their
    -wal and -shm, the projection lock)."""
    keys = settings.data_path / "keys"
    yield settings.data_path
    if keys.is_dir():
        yield keys
        yield from keys.iterdir()
    store = settings.sqlite_path
    yield from (Path(name) for name in glob.glob(glob.escape(str(store.with_name(store.stem))) + ".*"))


def _tighten(path: Path) -> bool:
    """Take group's and others' permissions off `path`, if it is ours and not a link; whether it had any."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(found.st_mode) or found.st_uid != os.getuid() or not found.st_mode & 0o077:
        return False
    path.chmod(stat.S_IMODE(found.st_mode) & 0o700)
    return True


SCHEMA_LOCK = 0x4B4C_5343  # "KLSC": the advisory lock key under which a process creates its tables


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Hold a lock across processes while this one creates its tables (a session advisory lock on PostgreSQL, an
    `flock` beside the event store on SQLite): processes starting together on a fresh database take turns, and every
    one after the first finds the tables, and the files in WAL mode, there. Why: decision 0029's Consequences."""
    if not settings.is_postgres:
        settings.sqlite_path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        fd = os.open(beside_store(settings, ".schema.lock"), os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
        return
    import psycopg

    with psycopg.connect(postgres_conninfo(settings), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def master_key(settings: Settings) -> bytes:
    if settings.master_key:
        return decode_master_key(settings.master_key)
    return decode_master_key(load_or_create(settings.data_path / "keys" / "master.key", new_master_key))


def jwt_secret(settings: Settings) -> bytes:
    if settings.jwt_secret:
        return settings.jwt_secret.encode()
    return load_or_create(settings.data_path / "keys" / "jwt.secret", lambda: secrets.token_urlsafe(48).encode())


def signing_keys(settings: Settings) -> dict[SigningAlgorithm, SigningKey]:
    """The server's answer-signing keys, created on first start (0600): RSA-4096 by default, Ed25519 on request."""
    keys_dir = settings.data_path / "keys"
    return {
        SigningAlgorithm.RSA: load_or_create_signing_key(keys_dir / "rsa-4096.pem", "rsa-4096"),
        SigningAlgorithm.ED25519: load_or_create_signing_key(keys_dir / "ed25519.pem", "ed25519"),
    }


SIGNING_CHILD = "keys.signing_child:handler"
"""What a signing child runs (adapters/children.py), when settings.helper_processes says to have one."""
WRITER_CHILD = "adapters.call_log:committer"
"""What the embedded call log's writer child runs, likewise."""


def client_plumbing(env: dict[str, str], writer_child: str | None = None) -> ClientPlumbing:
    """The call log and head reads beside the event store `env` configures: on PostgreSQL both go through
    the client link (adapters/client_link.py); on a SQLite file, a writer child commits if named."""

    def build(recorder: Any) -> tuple[CallStore, HeadSource]:
        store = call_store_for(env, events_table(recorder))
        link = store.link if isinstance(store, PostgresCallStore) else None
        head = head_reader(recorder, link.head if link is not None and link.reads_heads else None)
        return CallLog(store, link, writer_child), head

    return build


def build_ledger(env: dict[str, str], key: bytes, passwords: Passwords | None = None,
                 cache: SizedCache | None = None, writer_child: str | None = None) -> Ledger:
    """The write side on the event store `env` configures, with its client path's plumbing."""
    return Ledger(env, key, client_plumbing(env, writer_child), passwords, cache)


def deployment_tag(settings: Settings) -> str:
    """A short name of the deployment's database. What a deployment keeps in Redis (counters, replay marks,
    challenges, the webhook queue) is named after it, so deployments sharing one Redis keep apart. Only where
    the data lives counts (host, port, database, schema; the SQLite file): processes that log in differently,
    or before and after a password change, are one deployment."""
    if settings.is_postgres:
        parts = postgres_parts(settings.database_url or "")
        where = f"{parts['host'].lower()}:{parts['port']}/{parts['dbname']}?schema={parts['schema']}"
    else:
        where = str(settings.sqlite_path.resolve())
    return hashlib.blake2b(where.encode(), digest_size=8).hexdigest()


def ephemeral_store(settings: Settings) -> EphemeralStore:
    if not settings.redis_url:
        return MemoryStore()
    return RedisStore(settings.redis_url, prefix=f"keyledger:{deployment_tag(settings)}:")


def counters(settings: Settings) -> Counters:
    """The rate limits' and brute-force defence's counters: shared in Redis, or this process's own."""
    if not settings.redis_url:
        return MemoryCounters()
    return RedisCounters(settings.redis_url, prefix=f"keyledger:count:{deployment_tag(settings)}:")


def build_runtime(settings: Settings, clock: Clock = system_clock, start_projector: bool | None = None,
                  start_workers: bool | None = None) -> Runtime:
    """Wire one process. Projector and workers run in it unless told otherwise (production runs them apart)."""
    make_data_private(settings)
    key = master_key(settings)
    with schema_lock(settings):  # each creates its tables if they do not exist yet
        ledger = build_ledger(eventsourcing_env(settings), key, Passwords(settings.password_profile),
                              SizedLRUCache(CACHED_AGGREGATES, settings.cache_mb * 1024 * 1024),
                              WRITER_CHILD if settings.helper_processes else None)
        store = build_read_store(settings)
        migrate(store, clock())
        projector = Projector(ledger, build_projections(store), feeding=feeding_lock(settings))
        WebhookDispatcher(ProjectionView(store, WebhookDispatcher.name), events_between(ledger), list).create_tables()
        audit = build_audit(settings.data_path, ledger, store, clock, settings.audit_checkpoint_every,
                            settings.audit_checkpoint_seconds)
        answers = AnswerTable(store, unreachable, Sealer(key))
    if settings.geoip_db:  # the geo_anomaly rule (commands/geo.py)
        from adapters.geoip import MaxMindCountries

        ledger.countries = MaxMindCountries(settings.geoip_db)
    runtime = Runtime(settings, ledger, store, projector, key, jwt_secret(settings), signing_keys(settings),
                      ephemeral_store(settings), answers, clock, counters(settings))
    runtime.audit = audit
    if settings.run_projections if start_projector is None else start_projector:
        runtime.start_projector()
    if settings.run_workers if start_workers is None else start_workers:
        runtime.start_workers()
    return runtime


