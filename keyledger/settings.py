"""Settings: one struct read from KEYLEDGER_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

DEFAULT_PORT = 47293


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every knob of a KeyLedger process; each is also a flag of `keyledger serve`."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: str = "./var"
    database_url: str | None = None
    redis_url: str | None = None
    workers: int = 1
    jwt_secret: str | None = None
    jwt_ttl_seconds: int = 24 * 3600
    master_key: str | None = None
    run_projections: bool = True
    run_workers: bool = True
    sweep_interval: float = 60.0
    consistency_timeout: float = 5.0
    log_level: str = "info"
    password_profile: str = "RFC_9106_LOW_MEMORY"
    """An argon2-cffi profile name; tests use CHEAPEST. Existing hashes verify under any profile."""

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
        return msgspec.convert(raw, cls, strict=False)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> Path:
        """The event store file for the embedded default (or an explicit sqlite:/// URL)."""
        if self.database_url and self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return self.data_path / "events.sqlite3"
