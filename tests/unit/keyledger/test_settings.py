"""Settings come from KEYLEDGER_* variables; a value a setting cannot take names its variable and stops the command."""

from __future__ import annotations

import pytest

from keyledger import cli
from keyledger.settings import Settings, SettingsError


def test_a_bad_value_names_its_variable():
    with pytest.raises(SettingsError, match="KEYLEDGER_DATABASE_POOL"):
        Settings.from_env({"KEYLEDGER_DATABASE_POOL": "0"})
    with pytest.raises(SettingsError, match="KEYLEDGER_PORT"):
        Settings.from_env({"KEYLEDGER_PORT": "eighty"})
    with pytest.raises(SettingsError, match="KEYLEDGER_LOG_LEVEL"):  # uvicorn would stop with a KeyError
        Settings.from_env({"KEYLEDGER_LOG_LEVEL": "verbose"})


def test_values_are_read_from_their_variables():
    settings = Settings.from_env({"KEYLEDGER_DATABASE_POOL": "3", "KEYLEDGER_WORKERS": "2"})
    assert (settings.database_pool, settings.workers) == (3, 2)


def test_serve_with_a_bad_setting_exits_with_the_message_and_no_traceback(monkeypatch, tmp_path, capsys):
    # `serve` writes its flags into the environment: give it one of its own.
    environ = {k: v for k, v in cli.os.environ.items() if not k.startswith("KEYLEDGER_")}
    monkeypatch.setattr(cli.os, "environ", {**environ, "KEYLEDGER_DATABASE_POOL": "-1"})
    assert cli.main(["serve", "--data-dir", str(tmp_path), "--port", "0"]) == 2
    assert "keyledger: Expected `int` >= 1 - at KEYLEDGER_DATABASE_POOL" in capsys.readouterr().err


def test_client_compatibility_is_read_from_the_environment_and_checked():
    from domain.product import ClientCompatibility

    assert Settings.from_env({}).client_compatibility is ClientCompatibility.KEYLEDGER
    chosen = Settings.from_env({"KEYLEDGER_CLIENT_COMPATIBILITY": "licensecm-sdk"})
    assert chosen.client_compatibility is ClientCompatibility.LICENSECM_SDK
    with pytest.raises(SettingsError, match="KEYLEDGER_CLIENT_COMPATIBILITY"):
        Settings.from_env({"KEYLEDGER_CLIENT_COMPATIBILITY": "licensecm"})


@pytest.mark.parametrize(("variable", "value"), [
    ("KEYLEDGER_DATABASE_URL", "mysql://db/keyledger"),  # was taken as "not PostgreSQL": the embedded SQLite
    ("KEYLEDGER_REDIS_URL", "localhost:6379"),
    ("KEYLEDGER_PASSWORD_PROFILE", "FASTEST"),
    ("KEYLEDGER_JWT_SECRET", "changeme"),
    ("KEYLEDGER_MASTER_KEY", "not-base64-of-32-bytes"),
    ("KEYLEDGER_GEOIP_DB", "/nonexistent/GeoLite2-Country.mmdb"),
    ("KEYLEDGER_GEOIP_DB", __file__),  # a file, but not a MaxMind DB
    ("KEYLEDGER_WORKERS", "0"),  # uvicorn ran one process
    ("KEYLEDGER_PORT", "70000"),
    ("KEYLEDGER_JWT_TTL_SECONDS", "-1"),  # every token born expired
    ("KEYLEDGER_SWEEP_INTERVAL", "0"),
    ("KEYLEDGER_CONSISTENCY_TIMEOUT", "-5"),
    ("KEYLEDGER_SECURITY_INFO_DAYS", "3"),  # the security stats count seven days
])
def test_a_value_a_later_step_would_stop_on_names_its_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_values_that_would_serve_are_taken():
    settings = Settings.from_env({"KEYLEDGER_DATABASE_URL": "postgres://db/keyledger",
                                  "KEYLEDGER_REDIS_URL": "rediss://cache:6380/0",
                                  "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST", "KEYLEDGER_JWT_SECRET": "x" * 32})
    assert (settings.is_postgres, settings.redis_url, settings.jwt_secret) == (True, "rediss://cache:6380/0", "x" * 32)


def test_info_security_events_are_kept_ninety_days_unless_told_otherwise():
    from datetime import timedelta

    assert Settings.from_env({}).security_info_retention == timedelta(days=90)
    assert Settings.from_env({"KEYLEDGER_SECURITY_INFO_DAYS": "7"}).security_info_retention == timedelta(days=7)
    assert Settings.from_env({"KEYLEDGER_SECURITY_INFO_DAYS": "0"}).security_info_retention is None
