"""`keyledger admin promote|demote|deactivate|reactivate EMAIL` on SQLite and PostgreSQL: one line out, exit code."""

from __future__ import annotations

import pytest

from domain.account import Role
from keyledger import cli


@pytest.fixture
def keyledger(runtime, settings, monkeypatch, capsys):
    """Run the CLI against the runtime's store; answer (exit code, stdout, stderr)."""
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


@pytest.fixture
def accounts(runtime, clock):
    admin = runtime.ledger.register_account("admin@example.com", "secret123", "Admin", clock()).id
    vendor = runtime.ledger.register_account("vendor@example.com", "secret123", "Vendor", clock()).id
    return admin, vendor


def test_admin_actions_change_the_account_and_say_so_in_one_line(keyledger, runtime, accounts):
    _, vendor = accounts
    steps = [("promote", "is now an admin", Role.ADMIN, True), ("deactivate", "is now deactivated", Role.ADMIN, False),
             ("reactivate", "is now active", Role.ADMIN, True), ("demote", "is now a user", Role.USER, True)]
    for action, said, role, is_active in steps:
        code, out, err = keyledger("admin", action, "Vendor@Example.com")

        assert (code, out, err) == (0, f"Vendor@Example.com {said}\n", ""), action
        account = runtime.ledger.get_account(vendor)
        assert (account.role, account.is_active) == (role, is_active), action


def test_reactivated_account_signs_in_again(keyledger, runtime, accounts, clock):
    runtime.ledger.change_account(accounts[1], None, False, clock())

    assert keyledger("admin", "reactivate", "vendor@example.com")[0] == 0
    assert runtime.ledger.authenticate("vendor@example.com", "secret123").id == accounts[1]


@pytest.mark.parametrize("action", ["promote", "demote", "deactivate", "reactivate"])
def test_an_unknown_email_fails_with_one_line_and_no_traceback(keyledger, accounts, action):
    code, out, err = keyledger("admin", action, "ghost@example.com")

    assert code == 1 and out == ""
    assert err == f"keyledger admin {action}: no account has the email ghost@example.com\n"


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_the_only_admin_is_kept_with_one_line_and_a_failing_exit_code(keyledger, runtime, accounts, action):
    code, out, err = keyledger("admin", action, "admin@example.com")

    assert code == 1 and out == ""
    assert err == (f"keyledger admin {action}: admin@example.com is the only active admin; promote or reactivate"
                   " another account first\n")
    assert runtime.ledger.get_account(accounts[0]).is_active_admin
