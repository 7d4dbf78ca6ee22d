"""Build the write side, read side, keys and projector for one configuration."""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from adapters.aggregate_cache import SizedLRUCache
from adapters.answers import AnswerTable
from adapters.counters import MemoryCounters, RedisCounters
from adapters.wakeups import StoreNotifications
from api.ephemeral import EphemeralStore, MemoryStore, RedisStore
from api.signer import AnswerSigner
from commands import call_log, client_link
from commands.ledger import Ledger
from domain.product import SigningAlgorithm
from keyledger.settings import Settings
from keys.files import load_or_create
from keys.passwords import Passwords
from keys.secrets import decode_master_key, new_master_key
from keys.signing import SigningKey, load_or_create_signing_key
from projections.feeding import AdvisoryFeedingLock, FeedingLock, FileFeedingLock
from projections.db import PostgresReadStore, ReadStore, SQLiteReadStore, unreachable
from projections.registry import build_projections
from workers.projector import Projector

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Counters = MemoryCounters | RedisCounters


class ReadModelsBehindError(Exception):
    """A change is recorded, but the read models an answer is read from have not reached it in time."""

    def __init__(self, position: int) -> None:
        super().__init__(f"read models have not reached position {position}")
        self.position = position


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class Runtime:
    """Everything a KeyLedger process runs on; the API and workers receive this.

    A plain class, not a dataclass: Litestar would otherwise walk its fields as a schema.
    """

    def __init__(self, settings: Settings, ledger: Ledger, store: ReadStore, projector: Projector,
                 master_key: bytes, jwt_secret: bytes, signing_keys: dict[SigningAlgorithm, SigningKey],
                 ephemeral: EphemeralStore, clock: Clock = system_clock, counters: Counters | None = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.store = store
        self.projector = projector
        self.master_key = master_key
        self.jwt_secret = jwt_secret
        self.signing_keys = signing_keys
        self.ephemeral = ephemeral
        self.counters = counters if counters is not None else MemoryCounters()
        self.clock = clock
        self.answers = AnswerTable(store)
        self._notifications: StoreNotifications | None = None
        self.signer = AnswerSigner(settings.workers)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start_workers(self) -> None:
        """The embedded default's in-process workers: the expiry sweeper."""
        from workers.expiry import run_sweeper

        args = (self.ledger, self.store, self.clock, self._stop, self.settings.sweep_interval)
        thread = threading.Thread(target=run_sweeper, args=args,
                                  name="expiry-sweeper", daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_for(self, position: int) -> None:
        """Read-your-writes: wait (bounded) until every read model has seen `position`.

        Past the timeout (the projector is down or far behind) the answer cannot show the change, and
        answering with what the read models hold would show it missing or stale: ReadModelsBehindError,
        which the API answers 503 with Retry-After. The change itself is recorded and stays recorded."""
        try:
            self.projector.wait(position, timeout=self.settings.consistency_timeout)
        except TimeoutError:
            log.warning("read models have not reached position %s in %ss", position,
                        self.settings.consistency_timeout)
            raise ReadModelsBehindError(position) from None
        except Exception as error:
            if not unreachable(error):
                raise
            log.warning("read models unreachable after position %s: %s", position, error)
            raise ReadModelsBehindError(position) from error  # the change is recorded all the same

    def start_projector(self) -> None:
        """Project in this process; on PostgreSQL, woken by every append, whichever process made it."""
        if self.settings.is_postgres:
            channel = self.ledger.recorder.channel_name  # eventsourcing NOTIFYs it with each append
            self._notifications = StoreNotifications(postgres_conninfo(self.settings), channel,
                                                     self.projector.wake).start()
        self.projector.start()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._notifications is not None:
            self._notifications.close()
        self.projector.stop()
        self.signer.close()
        if isinstance(self.counters, RedisCounters):
            self.counters.close()
        self.store.close()
        self.ledger.close()


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
the client link's lanes, the projection lock's one (projections/feeding.py), and where a projector runs, the one
listening for appends (adapters/wakeups.py)."""


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
    reads them (commands/call_log.py)."""
    return call_log.conninfo_of(_store_env(settings))


def feeding_lock(settings: Settings) -> FeedingLock:
    """What keeps a rebuild and the projectors of other processes apart (projections/feeding.py)."""
    if settings.is_postgres:
        schema = postgres_parts(settings.database_url or "")["schema"]
        return AdvisoryFeedingLock(postgres_conninfo(settings), schema or None)
    return FileFeedingLock(settings.sqlite_path.with_name(settings.sqlite_path.stem + ".projecting.lock"))


def build_read_store(settings: Settings) -> ReadStore:
    if settings.is_postgres:
        schema = postgres_parts(settings.database_url or "")["schema"]
        return PostgresReadStore(postgres_conninfo(settings), schema=schema or None, max_size=settings.database_pool)
    return SQLiteReadStore(read_models_path(settings))


def read_models_path(settings: Settings) -> Path:
    return settings.sqlite_path.with_name(settings.sqlite_path.stem + ".read.sqlite3")


def sqlite_files(settings: Settings) -> list[Path]:
    """The SQLite databases of the embedded default: the event store, the read models, and the call log
    (which commands/call_log.py's call_store_for names after the event store)."""
    store = settings.sqlite_path
    return [store, read_models_path(settings), store.with_name(store.stem + ".calls" + store.suffix)]


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_data_private(settings: Settings) -> None:
    """The data dir holds every license key, password hash and signing key: it is the owner's alone (0700,
    files 0600). What an earlier start left open to others is tightened, with one line in the log. The SQLite
    databases are created here, empty and 0600, before SQLite or the eventsourcing library opens them: SQLite
    gives a database's -wal and -shm files the database's own mode."""
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
    """On PostgreSQL, hold a session advisory lock while this process creates its tables.

    CREATE TABLE IF NOT EXISTS is not safe against itself: two processes starting together on a
    fresh database (the API processes of `keyledger serve --workers N`, `keyledger project`) can
    both pass the check, and one then dies on pg_type's unique index. Under the lock they take
    turns, and every one after the first finds the tables there. SQLite needs nothing: its
    writers are serialised by the database file's lock.
    """
    if not settings.is_postgres:
        yield
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


def ephemeral_store(settings: Settings) -> EphemeralStore:
    return RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()


def counters(settings: Settings) -> Counters:
    """The rate limits' and brute-force defence's counters: shared in Redis, or this process's own. In Redis
    they are named after the deployment's database, so deployments sharing one Redis count apart."""
    if not settings.redis_url:
        return MemoryCounters()
    deployment = hashlib.blake2b((settings.database_url or str(settings.sqlite_path)).encode(), digest_size=8)
    return RedisCounters(settings.redis_url, prefix=f"keyledger:count:{deployment.hexdigest()}:")


def build_runtime(settings: Settings, clock: Clock = system_clock, start_projector: bool | None = None,
                  start_workers: bool | None = None) -> Runtime:
    """Wire one process. Projector and workers run in it unless told otherwise (production runs them apart)."""
    make_data_private(settings)
    key = master_key(settings)
    with schema_lock(settings):  # each creates its tables if they do not exist yet
        ledger = Ledger(eventsourcing_env(settings), key, Passwords(settings.password_profile),
                        SizedLRUCache(CACHED_AGGREGATES, settings.cache_mb * 1024 * 1024))
        store = build_read_store(settings)
        projector = Projector(ledger, build_projections(store), feeding=feeding_lock(settings))
    runtime = Runtime(settings, ledger, store, projector, key, jwt_secret(settings), signing_keys(settings),
                      ephemeral_store(settings), clock, counters(settings))
    if settings.run_projections if start_projector is None else start_projector:
        runtime.start_projector()
    if settings.run_workers if start_workers is None else start_workers:
        runtime.start_workers()
    return runtime


