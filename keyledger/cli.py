"""The `keyledger` command: serve, project, worker, migrate, rebuild, import, admin (promote, demote, ...),
audit verify, export."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from domain.account import AccountNotFoundError, LastAdminError, Role
from domain.actor import acting, system
from domain.errors import InvalidValueError
from keyledger import audit_cli
from keyledger.preflight import StartupError, reach_database, redis_warning, require_data
from keyledger.settings import Settings, SettingsError
from keyledger.wiring import Runtime, build_read_store, build_runtime, schema_lock, system_clock
from projections.migrations import Migration, migrate
from projections.registry import build_projections
from workers.projector import RebuildRefusedError, UnknownReadModelError

if TYPE_CHECKING:
    from keyledger.serving import Companion

SERVE_FLAGS = ("host", "port", "data_dir", "database_url", "redis_url", "workers", "jwt_secret", "master_key")

# action: (role, is_active) to set, its help, and what the account is once it is done
ADMIN_ACTIONS: dict[str, tuple[Role | None, bool | None, str, str]] = {
    "promote": (Role.ADMIN, None, "make an account an admin", "is now an admin"),
    "demote": (Role.USER, None, "make an admin an ordinary user", "is now a user"),
    "deactivate": (None, False, "stop an account signing in (its tokens stop working)", "is now deactivated"),
    "reactivate": (None, True, "let a deactivated account sign in again", "is now active"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except (SettingsError, StartupError) as error:
        print(f"keyledger: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyledger", description="Event-sourced software-licensing server")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the API (embedded default: SQLite, in-process workers)")
    for flag in SERVE_FLAGS:
        serve.add_argument("--" + flag.replace("_", "-"), dest=flag, default=None)
    serve.set_defaults(run=_serve)
    project = commands.add_parser("project", help="run the projections alone (production, many hosts)")
    project.set_defaults(run=_project)
    follow = commands.add_parser("follow", help="follow the client call log alone: the audit chain, security events,"
                                                " time series (serve runs it as its child)")
    follow.add_argument("--parent", type=int, default=None, metavar="PID",
                        help="stop once process PID is no longer this one's parent (serve passes its own)")
    follow.set_defaults(run=_follow)
    worker = commands.add_parser("worker", help="run the workers alone (expiry sweeper, webhooks; production)")
    worker.set_defaults(run=_worker)
    migrate_command = commands.add_parser("migrate", help="run the schema steps not yet run (serve and project do too)")
    migrate_command.set_defaults(run=_migrate)
    rebuild = commands.add_parser("rebuild", help="drop read models and rebuild them from the event store")
    rebuild.add_argument("names", nargs="*", help="read models to rebuild (default: all)")
    rebuild.set_defaults(run=_rebuild)
    imports = commands.add_parser("import", help="import products and licenses (CSV or JSON), e.g. from LicenseCM")
    imports.add_argument("file", help="the file to import (docs/migrating-from-licensecm.md)")
    imports.add_argument("--owner", required=True, help="email or id of the account the products will belong to")
    imports.add_argument("--format", choices=("csv", "json"), default=None,
                         help="the file's format (default: csv for a .csv file, else json)")
    imports.set_defaults(run=_import)
    admin = commands.add_parser("admin", help="account administration")
    admin_commands = admin.add_subparsers(required=True, metavar="ACTION")
    for action, (_, _, help_text, _) in ADMIN_ACTIONS.items():
        command = admin_commands.add_parser(action, help=help_text)
        command.add_argument("email")
        command.set_defaults(run=_admin, action=action)
    audit_cli.add_commands(commands, _opened)
    return parser


def _serve(args: argparse.Namespace) -> None:
    from keyledger.serving import Companion, serve

    # Flags become environment so that every API process (KEYLEDGER_WORKERS > 1) reads the same settings.
    for flag in SERVE_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"KEYLEDGER_{flag.upper()}"] = str(value)
    # Signatures and embedded commits in children of each API process: its threads would contend for its GIL.
    os.environ.setdefault("KEYLEDGER_HELPER_PROCESSES", "true")
    settings = Settings.from_env()
    settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)  # every API process makes it private
    _preflight(settings)
    companion = None
    if settings.run_call_followers and (settings.run_projections or settings.run_workers):
        # Following the call log costs each validation CPU; in a child of its own it takes none from the API's.
        os.environ["KEYLEDGER_RUN_CALL_FOLLOWERS"] = "false"
        command = [sys.executable, "-m", "keyledger.cli", "follow", "--parent", str(os.getpid())]
        companion = Companion(command, "call-log follower").start()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, _stopping(companion))
    print(f"KeyLedger listening on http://{settings.host}:{settings.port}/api (data in {settings.data_path})",
          flush=True)
    try:
        serve("keyledger.asgi:create", settings.host, settings.port, settings.workers, settings.log_level)
    finally:
        if companion is not None:
            companion.stop()


def _stopping(companion: Companion) -> Callable[[int, Any], None]:
    """A handler for an exit signal: stop the child, then die of the signal. uvicorn, once it has shut down on
    SIGTERM or SIGINT, puts back the handler it found (this one) and raises the signal again."""
    def handle(number: int, _: Any) -> None:
        companion.stop()
        signal.signal(number, signal.SIG_DFL)
        signal.raise_signal(number)
    return handle


def _preflight(settings: Settings) -> None:
    """Wait (bounded) for the database; warn once of a Redis that does not answer."""
    reach_database(settings)
    warning = redis_warning(settings)
    if warning:
        logging.getLogger("keyledger").warning(warning)


def _started(settings: Settings) -> Runtime:
    _preflight(settings)
    return build_runtime(settings, start_projector=False, start_workers=False)


def _opened(settings: Settings) -> Runtime:
    """`_started`, for a command about a deployment that must already exist (it never makes one)."""
    require_data(settings)
    return _started(settings)


def _project(_: argparse.Namespace) -> None:
    runtime = _started(Settings.from_env())
    runtime.start_projector()
    _until_stopped()
    runtime.close()


def _follow(args: argparse.Namespace) -> None:
    """What the API processes of `keyledger serve` would otherwise follow: the audit chain where they project,
    the feeds where they run the workers. Given `--parent`, stops with it, so that a killed serve leaves none behind."""
    settings = Settings.from_env()
    reach_database(settings)  # not `_preflight`: serve has warned already of a Redis that does not answer
    runtime = build_runtime(settings, start_projector=False, start_workers=False)
    runtime.start_followers(audit=settings.run_projections, feeds=settings.run_workers)
    _until_stopped(parent=args.parent)
    runtime.close()


def _worker(_: argparse.Namespace) -> None:
    """With Redis, webhooks are delivered as arq jobs (any number of worker hosts); without, in this process."""
    settings = Settings.from_env()
    runtime = _started(settings)
    runtime.start_workers(deliver_in_process=not settings.redis_url)
    if settings.redis_url:
        runtime.run_arq_delivery()
    else:
        _until_stopped()
    runtime.close()


def _until_stopped(parent: int | None = None) -> None:
    """Until SIGTERM or SIGINT, or (given `parent`) until this process's parent is gone."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if parent is not None and os.getppid() != parent:
                return
    except KeyboardInterrupt:
        pass


def _migrate(_: argparse.Namespace) -> int:
    settings = Settings.from_env()
    _preflight(settings)
    for step in migrate_schema(settings):
        print(f"migration {step.version}: {step.name}")
    print("schema up to date")
    return 0


def migrate_schema(settings: Settings) -> list[Migration]:
    """Run the schema steps not yet run, then create the read models' missing tables; the steps run now."""
    with schema_lock(settings):
        store = build_read_store(settings)
        try:
            ran = migrate(store, system_clock())
            build_projections(store)
        finally:
            store.close()
    return ran


def _rebuild(args: argparse.Namespace) -> int:
    runtime = _opened(Settings.from_env())
    try:
        count = runtime.projector.rebuild(args.names or None)
        calls = runtime.follow_call_log()
    except (RebuildRefusedError, UnknownReadModelError) as refused:
        print(f"keyledger rebuild: {refused}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print(f"rebuilt from {count} events and {calls} client calls")
    return 0


def _import(args: argparse.Namespace) -> int:
    """Import a file line by line: each line imported, present already, or refused with its reason (exit 1)."""
    from api.schemas.imports import import_report, read_import

    file_format = args.format or ("csv" if args.file.lower().endswith(".csv") else "json")
    try:
        with open(args.file, encoding="utf-8") as file:
            found = read_import(file.read(), file_format)
    except (OSError, UnicodeDecodeError, InvalidValueError) as error:
        print(f"keyledger import: {args.file}: {error}", file=sys.stderr)
        return 1
    runtime = _opened(Settings.from_env())
    try:
        owner = runtime.ledger.import_owner(args.owner)
        with acting(system("import", channel="cli", os_user=_operator())):
            outcomes, _ = runtime.ledger.import_records(owner.id, found.products, found.licenses, system_clock())
        runtime.projector.catch_up()
    except AccountNotFoundError:
        print(f"keyledger import: no account has the email or id {args.owner}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    report = import_report([*found.refused, *outcomes])
    for line in report.lines:
        reason = f": {line.reason}" if line.reason else ""
        print(f"line {line.line}: {line.kind} {line.name}: {line.outcome}{reason}")
    print(f"{report.imported} imported, {report.present} already present, {report.refused} refused")
    return 1 if report.refused else 0


def _operator() -> str:
    """Who ran this command on this machine, for the events it records."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry for this uid (some containers)
        return str(os.getuid())


def _admin(args: argparse.Namespace) -> int:
    role, is_active, _, done = ADMIN_ACTIONS[args.action]
    runtime = _opened(Settings.from_env())
    try:
        with acting(system(f"admin {args.action}", channel="cli", os_user=_operator())):
            runtime.ledger.change_account_by_email(args.email, role, is_active, system_clock())
        runtime.projector.catch_up()
    except AccountNotFoundError:
        print(f"keyledger admin {args.action}: no account has the email {args.email}", file=sys.stderr)
        return 1
    except LastAdminError:
        print(f"keyledger admin {args.action}: {args.email} is the only active admin; promote or reactivate"
              " another account first", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print(f"{args.email} {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
