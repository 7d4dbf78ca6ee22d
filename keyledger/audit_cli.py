"""`keyledger audit verify [--file]` and `keyledger export`: the auditor's commands (docs/audit.md)."""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from uuid import UUID

from domain.account import AccountNotFoundError
from domain.audit import CHAINS, parse_instant
from domain.errors import InvalidValueError
from keyledger.settings import Settings
from keyledger.wiring import Runtime
from projections.audit_chain import chain_head
from projections.audit_export import ExportScope, export_lines
from workers.audit import ChainReport, verify_chain, verify_export

Started = Callable[[Settings], Runtime]
PROGRESS_EVERY = 1000


def add_commands(commands: argparse._SubParsersAction, started: Started) -> None:  # type: ignore[type-arg]
    """Register `audit verify` and `export` on the `keyledger` parser; `started` wires a process without workers."""
    audit = commands.add_parser("audit", help="check the tamper-evident audit chain")
    actions = audit.add_subparsers(required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="recompute the chain and check every signed checkpoint")
    verify.add_argument("--file", help="check this export (NDJSON, or .gz) offline instead of the store")
    verify.add_argument("--public-key", help="PEM of the audit key to trust (default: the data dir's, else the"
                        " file's own)")
    verify.set_defaults(run=lambda args: _verify_file(args) if args.file else _verify(started))
    export = commands.add_parser("export", help="write the audit chain's records as NDJSON, each with its hash")
    export.add_argument("--since", help="ISO-8601 time: records made at or after it")
    export.add_argument("--until", help="ISO-8601 time: records made before it")
    export.add_argument("--product", help="only this product's records (its id)")
    export.add_argument("--tenant", help="only the records of this vendor's products (email or id)")
    export.add_argument("--output", "-o", default="-", help="file to write (default: standard output)")
    export.add_argument("--gzip", action="store_true", help="compress (also when the file name ends in .gz)")
    export.set_defaults(run=lambda args: _export(args, started))


def _verify(started: Started) -> int:
    """Exit 0 when every chain matches its log and every checkpoint verifies; 1 naming the first break."""
    runtime = started(Settings.from_env())
    try:
        assert runtime.audit is not None
        reports = [verify_chain(runtime.store, chain, runtime.audit.sources[chain], runtime.audit.public_keys())
                   for chain in CHAINS]
    finally:
        runtime.close()
    return _said(reports, "audit chain verified", "audit chain BROKEN")


def _said(reports: list[ChainReport], good: str, bad: str) -> int:
    for report in reports:
        print(f"{report.chain}: {report.records} records, {report.checkpoints} signed checkpoints checked")
        for problem in report.bad_signatures:
            print(f"{report.chain}: {problem}", file=sys.stderr)
        for broken in report.breaks:
            print(broken.describe(), file=sys.stderr)
    ok = all(report.ok for report in reports)
    print(good if ok else bad)
    return 0 if ok else 1


def _verify_file(args: argparse.Namespace) -> int:
    """Check an export offline; the key trusted is named, and lines no matching checkpoint covers are counted."""
    pem = _trusted_pem(args.public_key)
    try:
        with _opened(args.file) as lines:
            report = verify_export(lines, pem)
    except (OSError, ValueError, KeyError) as error:
        print(f"keyledger audit verify: {args.file}: {error}", file=sys.stderr)
        return 1
    if pem is None:
        print(f"trusting the key the file carries ({report.key_id}): compare it with GET /api/audit/checkpoints",
              file=sys.stderr)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    for chain, count in report.unanchored.items():
        if count:
            print(f"{chain}: {count} lines after the last checkpoint that matched: their links check, no"
                  " signature covers them")
    return _said(list(report.chains.values()), "export verified", "export BROKEN")


def _trusted_pem(path: str | None) -> str | None:
    if path:
        return Path(path).read_text()
    from keyledger.audit import audit_key, audit_key_path

    data_path = Settings.from_env().data_path
    if not audit_key_path(data_path).exists():
        return None
    return audit_key(data_path).public_pem


@contextmanager
def _opened(path: str) -> Iterator[Iterator[bytes]]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:  # type: ignore[operator]
        yield iter(file)


def _export(args: argparse.Namespace, started: Started) -> int:
    runtime = started(Settings.from_env())
    try:
        assert runtime.audit is not None
        scope = _scope(args, runtime)
        runtime.projector.catch_up()  # the owners the filters look up
        runtime.audit.keeper.catch_up()  # the records made until now
        total = sum(chain_head(runtime.store, chain) for chain in CHAINS)
        lines = export_lines(runtime.store, runtime.audit.sources, scope, runtime.audit.key.key_id,
                             runtime.audit.key.public_pem)
        with _output(args) as out:
            _write(lines, out, total)
    except (InvalidValueError, AccountNotFoundError) as error:
        print(f"keyledger export: {error}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    return 0


def _scope(args: argparse.Namespace, runtime: Runtime) -> ExportScope:
    tenant = str(runtime.ledger.import_owner(args.tenant).id) if args.tenant else None
    try:
        product = str(UUID(args.product)) if args.product else None
    except ValueError:
        raise InvalidValueError(f"{args.product!r} is not a product id") from None
    return ExportScope(parse_instant(args.since) if args.since else None,
                       parse_instant(args.until) if args.until else None, product, tenant)


@contextmanager
def _output(args: argparse.Namespace) -> Iterator[IO[bytes]]:
    compress = args.gzip or args.output.endswith(".gz")
    if args.output == "-" and not compress:
        yield sys.stdout.buffer
        return
    if args.output == "-":
        with gzip.GzipFile(fileobj=sys.stdout.buffer, mode="wb") as zipped:
            yield zipped
        return
    with (gzip.open if compress else open)(args.output, "wb") as file:  # type: ignore[operator]
        yield file


def _write(lines: Iterator[bytes], out: IO[bytes], total: int) -> None:
    """Write the lines; on a terminal, a progress line on standard error (never into a file or pipe)."""
    progress = sys.stderr.isatty()
    count = 0
    for count, line in enumerate(lines, 1):
        out.write(line)
        if progress and count % PROGRESS_EVERY == 0:
            print(f"\rexported {count} of about {total} lines", end="", file=sys.stderr, flush=True)
    out.flush()
    if progress:
        print(f"\rexported {count} lines" + " " * 20, file=sys.stderr)
