"""`keyledger audit verify` and `keyledger export`: the auditor's commands (docs/audit.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from domain.audit import CHAINS
from keyledger.settings import Settings
from keyledger.wiring import Runtime
from workers.audit import verify_chain


def add_commands(commands: argparse._SubParsersAction, started: Callable[[Settings], Runtime]) -> None:  # type: ignore[type-arg]
    """Register `audit verify` on the `keyledger` parser; `started` wires a process without workers."""
    audit = commands.add_parser("audit", help="check the tamper-evident audit chain")
    actions = audit.add_subparsers(required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="recompute the chain and check every signed checkpoint")
    verify.set_defaults(run=lambda args: _verify(args, started))


def _verify(_: argparse.Namespace, started: Callable[[Settings], Runtime]) -> int:
    """Exit 0 when every chain matches its log and every checkpoint verifies; 1 naming the first break."""
    runtime = started(Settings.from_env())
    try:
        assert runtime.audit is not None
        reports = [verify_chain(runtime.store, chain, runtime.audit.sources[chain], runtime.audit.public_keys())
                   for chain in CHAINS]
    finally:
        runtime.close()
    for report in reports:
        print(f"{report.chain}: {report.records} records, {report.checkpoints} signed checkpoints checked")
        for problem in report.bad_signatures:
            print(f"{report.chain}: {problem}", file=sys.stderr)
        for broken in report.breaks:
            print(broken.describe(), file=sys.stderr)
    ok = all(report.ok for report in reports)
    print("audit chain verified" if ok else "audit chain BROKEN")
    return 0 if ok else 1
