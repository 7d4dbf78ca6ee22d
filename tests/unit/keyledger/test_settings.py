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
