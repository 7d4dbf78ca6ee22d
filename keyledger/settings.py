"""Settings: one struct read from KEYLEDGER_* environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from domain.product import ClientCompatibility
from domain.security_events import STATS_DAYS

DEFAULT_PORT = 47293


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"
JWT_SECRET_BYTES = 32
"""The shortest KEYLEDGER_JWT_SECRET taken: RFC 7518 asks HS256 for a key of at least 256 bits."""


class SettingsError(ValueError):
    """A KEYLEDGER_* variable holds a value its setting cannot take."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every knob of a KeyLedger process; each is also a flag of `keyledger serve`."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = DEFAULT_PORT
    data_dir: str = "./var"
    database_url: str | None = None
    redis_url: str | None = None
    workers: Annotated[int, msgspec.Meta(ge=1, le=256)] = 1
    jwt_secret: str | None = None
    jwt_ttl_seconds: Annotated[int, msgspec.Meta(ge=60)] = 24 * 3600
    master_key: str | None = None
    run_projections: bool = True
    run_workers: bool = True
    run_call_followers: bool = True
    """Follow the client call log in this process (the audit chain beside the projections, the security-event
    and time-series feeds beside the workers). `keyledger serve` turns it off in its API processes and runs
    them in one child process instead (`keyledger follow`), so that validations keep the API's cores."""
    helper_processes: bool = False
    """Make Ed25519 answer signatures and the embedded call log's commits in two child processes of each API
    process rather than in its threads, which contend with its event loop for the GIL (docs/decisions/0090).
    `keyledger serve` turns it on in its API processes unless set; in-process runtimes keep the threads."""
    sweep_interval: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    consistency_timeout: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    database_pool: Annotated[int, msgspec.Meta(ge=1)] = 6
    """On PostgreSQL, the most connections each of a process's two pools opens: the event store's and the
    read models'. A process opens at most 2 x this + 7 (keyledger/wiring.py, CONNECTIONS_BESIDE_POOLS)."""
    cache_mb: Annotated[int, msgspec.Meta(ge=1)] = 64
    """MiB of licenses, products and accounts a process keeps in memory (each of its two caches)."""
    startup_timeout: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    """Seconds a starting process waits for PostgreSQL to answer before it stops (keyledger/preflight.py)."""
    audit_checkpoint_every: Annotated[int, msgspec.Meta(ge=1)] = 1000
    """The audit chain signs a checkpoint of its head once it has grown by this many records (docs/audit.md)..."""
    audit_checkpoint_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """...or, when it has grown at all, once the last checkpoint is this old."""
    geoip_db: str | None = None
    """A MaxMind DB file (GeoLite2/GeoIP2 Country or City) for the `geo_anomaly` rule; unset, that rule is off."""
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    """uvicorn's log level for `keyledger serve`."""
    password_profile: str = "RFC_9106_LOW_MEMORY"
    """An argon2-cffi profile name; tests use CHEAPEST. Existing hashes verify under any profile."""
    client_compatibility: ClientCompatibility = ClientCompatibility.KEYLEDGER
    """The client protocol a product created without `client_compatibility` gets (a product keeps what it was
    given: changing this later changes no existing product)."""
    webhook_allow_private: bool = False
    """Let webhooks use plain http and reach loopback/private addresses: for development and tests only."""
    webhook_hosts: str | None = None
    """Comma-separated host names: when set, the only hosts a webhook URL may name (a test server's fence)."""
    webhook_timeout: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    """Seconds one delivery attempt may take, answer included."""
    webhook_disable_after: Annotated[int, msgspec.Meta(ge=1)] = 50
    """Consecutive failed attempts (no success between) after which an endpoint is disabled (docs/webhooks.md)."""
    webhook_sweep_interval: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """Seconds between sweeps that queue every delivery due (a retry's time come, or one Redis lost)."""
    webhook_log_days: Annotated[int, msgspec.Meta(ge=0, le=36500)] = 30
    """Days a finished delivery (delivered, failed or cancelled) and its attempts stay listed; 0 keeps them all."""
    security_info_days: Annotated[int, msgspec.Meta(ge=0, le=36500)] = 90
    """Days an `info` security event (a plain validation, activation or deactivation) stays listed; detections
    and alerts stay, and every call stays in its license's logs and the audit chain. 0 keeps them all."""

    rate_limit_api: Annotated[int, msgspec.Meta(ge=0)] = 100
    """Vendor API requests an account may make a window (before login: an address); 0 turns the limit off."""
    rate_limit_validation: Annotated[int, msgspec.Meta(ge=0)] = 10
    """Client API calls a client (product + license key + device) may make a window; 0: off."""
    rate_limit_client_ip: Annotated[int, msgspec.Meta(ge=0)] = 600
    """Client API calls one address may make a window, whatever keys it sends (offices share an address; key
    guessing sends many keys); 0: off."""
    rate_limit_window_seconds: Annotated[int, msgspec.Meta(ge=1, le=86400)] = 60
    """The rate limits' window, which opens at a key's first request."""
    brute_force_logins: Annotated[int, msgspec.Meta(ge=0)] = 10
    """Failed logins, for one account or from one address within the brute-force window, that block the
    address (api/abuse.py); 0: off."""
    brute_force_unknown_keys: Annotated[int, msgspec.Meta(ge=0)] = 30
    """Client calls naming an unknown license key, from one address within the window, that block it; 0: off."""
    brute_force_window_seconds: Annotated[int, msgspec.Meta(ge=1, le=86400)] = 900
    brute_force_block_seconds: Annotated[int, msgspec.Meta(ge=1, le=30 * 86400)] = 3600
    """How long a brute-force block lasts: the blacklist entry expires then."""
    stream_keepalive_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 15.0
    """Seconds of quiet after which the event stream sends a `: keep-alive` comment (docs/events-stream.md)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read KEYLEDGER_<FIELD> variables; explicit overrides win."""
        environ = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in cls.__struct_fields__:
            value = environ.get(f"KEYLEDGER_{field.upper()}")
            if value not in (None, ""):
                raw[field] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            settings = msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as error:  # "... - at `$.port`" names the variable instead
            raise SettingsError(re.sub(r"`\$\.(\w+)`", lambda field: f"KEYLEDGER_{field[1].upper()}",
                                       str(error))) from None
        problem = next(_problems(settings), None)
        if problem is not None:
            raise SettingsError(f"{problem[1]} - at KEYLEDGER_{problem[0].upper()}")
        return settings

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def security_info_retention(self) -> timedelta | None:
        """How long an `info` security event stays listed; None: for good."""
        return timedelta(days=self.security_info_days) if self.security_info_days else None

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and self.database_url.startswith(POSTGRES_SCHEMES)

    @property
    def sqlite_path(self) -> Path:
        """The event store file for the embedded default (or an explicit sqlite:/// URL)."""
        if self.database_url and self.database_url.startswith(SQLITE_SCHEME):
            return Path(self.database_url.removeprefix(SQLITE_SCHEME))
        return self.data_path / "events.sqlite3"


def _problems(settings: Settings) -> Iterator[tuple[str, str]]:
    """(field, what is wrong) for what the types cannot say: values a later step would stop on with a traceback,
    or take silently for something else (a MySQL URL would have meant the embedded SQLite store)."""
    from argon2 import Parameters, profiles

    from keys.secrets import decode_master_key

    if settings.database_url and not settings.database_url.startswith((*POSTGRES_SCHEMES, SQLITE_SCHEME)):
        yield "database_url", "Expected a postgresql:// or sqlite:/// URL"
    if settings.redis_url and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        yield "redis_url", "Expected a redis://, rediss:// or unix:// URL"
    if not isinstance(getattr(profiles, settings.password_profile, None), Parameters):
        yield "password_profile", "Expected an argon2-cffi profile name, such as RFC_9106_LOW_MEMORY"
    if settings.jwt_secret and len(settings.jwt_secret.encode()) < JWT_SECRET_BYTES:
        yield "jwt_secret", f"Expected at least {JWT_SECRET_BYTES} bytes (HS256 wants a 256-bit key)"
    if settings.master_key:
        try:
            decode_master_key(settings.master_key)
        except ValueError:
            yield "master_key", "Expected 32 bytes, urlsafe-base64 encoded"
    if 0 < settings.security_info_days < STATS_DAYS:
        yield "security_info_days", f"Expected 0 or at least {STATS_DAYS}: the security stats count {STATS_DAYS} days"
    if settings.geoip_db and not _mmdb(settings.geoip_db):
        yield "geoip_db", "Expected a MaxMind DB file (.mmdb) this process can read"


def _mmdb(path: str) -> bool:
    import maxminddb

    try:
        maxminddb.open_database(path).close()
    except (OSError, ValueError, maxminddb.InvalidDatabaseError):
        return False
    return True
