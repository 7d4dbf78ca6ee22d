"""What a KeyLedger process checks before it starts: its database answers, and Redis if one is set.

A database that does not answer is waited for (it may be starting beside us, as in docker
compose) for `startup_timeout` seconds, then the process stops with one line naming the
setting. Redis that does not answer is only warned of: plain client calls and the vendor API
need none, and the calls that do answer 503 until it is back (api/errors.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from keyledger.settings import Settings

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Raised when a process cannot start; the message names the setting to look at."""


def reach_database(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> None:
    """Return once PostgreSQL accepts a connection (SQLite: once the data dir is writable)."""
    if not settings.is_postgres:
        _require_writable(settings)
        return
    import psycopg

    from keyledger.wiring import postgres_conninfo

    deadline = time.monotonic() + settings.startup_timeout
    while True:
        try:
            psycopg.connect(postgres_conninfo(settings), connect_timeout=5).close()
            return
        except psycopg.OperationalError as error:
            if time.monotonic() >= deadline:
                reason = str(error).strip().splitlines()[0]
                raise StartupError(f"KEYLEDGER_DATABASE_URL: PostgreSQL did not answer within"
                                   f" {settings.startup_timeout:g} s ({reason})") from None
            log.warning("waiting for PostgreSQL (KEYLEDGER_DATABASE_URL): %s", str(error).strip().splitlines()[0])
            sleep(1.0)


def _require_writable(settings: Settings) -> None:
    folder = settings.sqlite_path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = folder / ".keyledger-write-check"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise StartupError(f"KEYLEDGER_DATA_DIR: cannot write in {folder} ({error.strerror})") from None


def require_data(settings: Settings) -> None:
    """Refuse a command that reads or changes an existing deployment (audit, export, rebuild, import, admin) where
    no server has run: it would make an empty store and a new audit key there, and report on those."""
    from keyledger.audit import audit_key_path

    if not audit_key_path(settings.data_path).exists():
        missing = "keys"
    elif not settings.is_postgres and not settings.sqlite_path.exists():
        missing = "event store"
    else:
        return
    raise StartupError(f"KEYLEDGER_DATA_DIR: no KeyLedger data in {settings.data_path.resolve()} (no {missing});"
                       " point it at the server's data dir")


def redis_warning(settings: Settings) -> str | None:
    """One line for the log when Redis is set but does not answer; None when it answers or is not set."""
    if not settings.redis_url:
        return None
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        return None
    except redis.exceptions.RedisError as error:
        return (f"KEYLEDGER_REDIS_URL is set but Redis does not answer ({error}): encrypted client calls and"
                " challenges answer 503 until it does; everything else works")
    finally:
        client.close()
