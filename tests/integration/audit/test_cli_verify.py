"""`keyledger audit verify`: exit 0 and a summary on an untouched store, exit 1 naming the first break."""

from __future__ import annotations

import stat

import pytest

from keyledger import cli
from tests.integration.audit.conftest import Rows, make_history

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def keyledger(runtime, settings, monkeypatch, capsys):
    environ = {key: value for key, value in cli.os.environ.items() if not key.startswith("KEYLEDGER_")}
    environ |= {"KEYLEDGER_DATA_DIR": settings.data_dir, "KEYLEDGER_PASSWORD_PROFILE": "CHEAPEST"}
    if settings.database_url:
        environ["KEYLEDGER_DATABASE_URL"] = settings.database_url
    monkeypatch.setattr(cli.os, "environ", environ)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_verify_passes_on_an_untouched_store(keyledger, runtime, clock):
    make_history(runtime, clock)

    code, out, err = keyledger("audit", "verify")

    assert (code, err) == (0, "")
    assert "audit chain verified" in out
    assert "calls: 6 records" in out


def test_verify_fails_and_names_the_position_of_a_changed_event(keyledger, runtime, clock):
    make_history(runtime, clock)
    Rows(runtime, "events").change(5)

    code, out, err = keyledger("audit", "verify")

    assert code == 1
    assert "events chain: record changed at position 5" in err
    assert "BROKEN" in out


def test_audit_key_is_created_owner_only(runtime, settings):
    path = settings.data_path / "keys" / "audit-ed25519.pem"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_export_then_verify_file_offline(keyledger, runtime, clock, tmp_path):
    made = make_history(runtime, clock)
    path = tmp_path / "export.ndjson.gz"

    code, out, err = keyledger("export", "-o", str(path))
    assert (code, out) == (0, "")
    code, out, err = keyledger("audit", "verify", "--file", str(path))

    assert code == 0, err
    assert "export verified" in out and "calls: 6 records" in out
    assert made


def test_verify_file_names_an_edited_line(keyledger, runtime, clock, tmp_path):
    make_history(runtime, clock)
    path = tmp_path / "export.ndjson"
    assert keyledger("export", "-o", str(path))[0] == 0
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"position":4,' in line and '"chain":"events"' in line)
    lines[index] = lines[index].replace('\\"timestamp\\"', '\\"timestamq\\"', 1)
    path.write_text("\n".join(lines) + "\n")

    code, out, err = keyledger("audit", "verify", "--file", str(path))

    assert code == 1
    assert "events chain: record changed at position 4" in err


def test_verify_file_names_a_removed_line(keyledger, runtime, clock, tmp_path):
    make_history(runtime, clock)
    path = tmp_path / "export.ndjson"
    assert keyledger("export", "-o", str(path))[0] == 0
    lines = [line for line in path.read_text().splitlines()
             if not ('"position":3,' in line and '"chain":"calls"' in line)]
    path.write_text("\n".join(lines) + "\n")

    code, out, err = keyledger("audit", "verify", "--file", str(path))

    assert code == 1
    assert "calls chain: record removed at position 4" in err


def test_export_filters_by_tenant_and_refuses_a_bad_time(keyledger, runtime, clock, tmp_path):
    made = make_history(runtime, clock)
    make_history(runtime, clock)  # another vendor's
    path = tmp_path / "tenant.ndjson"

    assert keyledger("export", "--tenant", str(made["vendor"]), "-o", str(path))[0] == 0
    code, _, err = keyledger("export", "--since", "last tuesday")

    calls = [line for line in path.read_text().splitlines() if line.startswith('{"chain":"calls"')]
    assert len(calls) == 6
    assert code == 1 and "not an ISO-8601 time" in err


@pytest.mark.parametrize("command", [("audit", "verify"), ("export",), ("rebuild",),
                                     ("admin", "promote", "someone@example.com")])
def test_a_data_dir_where_no_server_ran_is_refused_and_left_as_it_was(settings, monkeypatch, capsys, tmp_path,
                                                                       command):
    elsewhere = tmp_path / "not-the-data-dir"
    environ = {key: value for key, value in cli.os.environ.items() if not key.startswith("KEYLEDGER_")}
    environ["KEYLEDGER_DATA_DIR"] = str(elsewhere)
    if settings.database_url:
        environ["KEYLEDGER_DATABASE_URL"] = settings.database_url
    monkeypatch.setattr(cli.os, "environ", environ)

    code = cli.main(list(command))

    # Check it says where it looked and made nothing there: no empty store, no new audit key to verify with
    _, err = capsys.readouterr()
    assert code == 2
    assert f"no KeyLedger data in {elsewhere}" in err
    assert not elsewhere.exists()
