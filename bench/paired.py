"""Ed25519 validations of several trees side by side: whether a change moved the speed, in one run.

Each tree is a git revision (`HEAD`, `f7e3d21`, ...) checked out into a temporary worktree, or `.`
for the working tree, optionally with settings after a `+` (`HEAD+KEYLEDGER_RUN_CALL_FOLLOWERS=false`).
Every tree is served embedded (`keyledger serve`, SQLite, one process, the rate limiter on at limits
no run reaches, as in `validate.py`) from this checkout's virtualenv, beside the bare endpoint; or with
`--postgres`, as `validate.py`'s PostgreSQL configuration: two API processes on a schema and a Redis
database of the tree's own, its projector and worker beside them, the bare endpoint in two processes. wrk
then runs each in turn, round after round, the order reversed every other round. A machine whose
speed drifts by a fifth within minutes moves every tree of a round alike, so the figures that count
are each round's ratios: a tree's rate over the first tree's, and over the bare endpoint's.

    .venv/bin/python bench/paired.py f7e3d21 c154f24 HEAD            # 7 rounds of 3 s at 32 connections
    .venv/bin/python bench/paired.py HEAD HEAD+KEYLEDGER_RATE_LIMIT_VALIDATION=0 --connections 32,128
    .venv/bin/python bench/paired.py f7e3d21 HEAD --postgres --connections 32,128
    .venv/bin/python bench/paired.py HEAD . --postgres --cpu      # and where each tree's CPU went

Needs wrk, as `validate.py` does. A revision must serve the vendor and client routes `prepare` uses.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.validate import (  # noqa: E402
    POSTGRES_URL,
    CpuMeter,
    Group,
    bare_server,
    free_port,
    keyledger_env,
    keyledger_projector,
    keyledger_server,
    parse_wrk,
    postgres_schema,
    prepare,
    wait_until_up,
    wrk,
)


@dataclass
class Tree:
    """One tree served: what it was asked as, where it is checked out, the settings it runs with."""

    label: str
    path: Path
    settings: dict[str, str]
    url: str = ""
    body: dict[str, str] | None = None
    server: Group | None = None
    projector: Group | None = None


def parse_tree(spec: str) -> tuple[str, dict[str, str]]:
    """`REV` or `REV+NAME=VALUE,NAME=VALUE`: the revision and the settings it runs with."""
    revision, _, settings = spec.partition("+")
    pairs = [pair.split("=", 1) for pair in settings.split(",") if pair]
    if any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"{spec}: settings are NAME=VALUE pairs, comma-separated")
    return revision, dict(pairs)  # type: ignore[arg-type]


def check_out(revision: str, into: Path) -> Path:
    """The tree of `revision` in a detached worktree under `into` (`.`: this working tree itself)."""
    if revision == ".":
        return ROOT
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    path = into / commit[:12]
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
                       capture_output=True, check=True)
    return path


def remove_worktrees(paths: list[Path]) -> None:
    for path in dict.fromkeys(paths):  # two trees of one revision share a worktree
        if path != ROOT:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], capture_output=True)


def tree_env(index: int, tree: Tree, schema: str | None) -> dict[str, str]:
    """A tree's `keyledger serve` environment: embedded in one process, or on PostgreSQL (`schema`) and Redis
    (a database per tree) in two, projecting in a process of its own."""
    if schema is None:
        return {**keyledger_env(1, None, None, run_projections=True), **tree.settings}
    return {**keyledger_env(2, f"{POSTGRES_URL}?schema={schema}", f"redis://127.0.0.1:6379/{index + 1}",
                            run_projections=False), **tree.settings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="REV or REV+NAME=VALUE,...; `.` is the working tree")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--connections", default="32", help="wrk connection counts (comma)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis, two API processes a tree")
    parser.add_argument("--cpu", action="store_true",
                        help="also each tree's CPU a validation: API processes, projector and worker, databases, wrk")
    args = parser.parse_args()
    connection_counts = [int(count) for count in args.connections.split(",")]

    groups: list[Group] = []
    worktrees: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="klbench_paired_") as tmp, ExitStack() as schemas:
        schema_names = [schemas.enter_context(postgres_schema()) for _ in args.trees] if args.postgres else []
        try:
            trees = []
            for spec in args.trees:
                revision, settings = parse_tree(spec)
                path = check_out(revision, Path(tmp))
                worktrees.append(path)
                trees.append(Tree(spec, path, settings))
            bare_port = free_port()
            processes = 2 if args.postgres else 1
            bare = bare_server(bare_port, processes, Path(tmp) / "bare")
            groups.append(bare)
            for index, tree in enumerate(trees):
                port, data_dir = free_port(), Path(tmp) / f"data-{index}"
                env = tree_env(index, tree, schema_names[index] if args.postgres else None)
                server = tree.server = keyledger_server(port, data_dir, env, cwd=tree.path)
                groups.append(server)
                wait_until_up(f"http://127.0.0.1:{port}/api/client/public-key", server, processes)
                if args.postgres:
                    tree.projector = keyledger_projector(data_dir, env, cwd=tree.path)
                    groups.append(tree.projector)
                tree.url = f"http://127.0.0.1:{port}/api/client/validate"
                tree.body = prepare(f"http://127.0.0.1:{port}/api")["ed25519"]
            wait_until_up(f"http://127.0.0.1:{bare_port}/health", bare, processes)
            bare_tree = Tree("bare endpoint", ROOT, {}, f"http://127.0.0.1:{bare_port}/api/client/validate",
                             trees[0].body)
            script_dir = Path(tmp)
            for tree in [bare_tree, *trees]:  # warm up: imports, caches
                wrk(tree.url, tree.body or {}, max(connection_counts), 1, script_dir)
            for connections in connection_counts:
                rates: dict[str, list[float]] = {tree.label: [] for tree in [bare_tree, *trees]}
                costs: dict[str, list[tuple[float, ...]]] = {tree.label: [] for tree in trees}
                for index in range(args.rounds):
                    order = trees if index % 2 == 0 else trees[::-1]
                    for tree in [bare_tree, *order]:
                        with CpuMeter(groups, tree.server or bare, tree.projector) as meter:
                            rate = parse_wrk(wrk(tree.url, tree.body or {}, connections, args.seconds,
                                                 script_dir)).rps
                        rates[tree.label].append(rate)
                        if tree.server is not None:
                            api = sum(meter.per_process.get(pid, 0.0) for pid in tree.server.workers())
                            beside = sum(meter.per_process.values()) - api + meter.projector_cores
                            costs[tree.label].append(tuple(cores / rate * 1e6 for cores in (
                                api, beside, meter.db_cores, meter.wrk_cores)))
                report(connections, args.rounds, rates, bare_tree.label, trees[0].label)
                if args.cpu:
                    report_cpu(costs)
        finally:
            for group in reversed(groups):
                group.stop()
            remove_worktrees(worktrees)


def report(connections: int, rounds: int, rates: dict[str, list[float]], bare: str, first: str) -> None:
    print(f"\nc={connections}, {rounds} rounds: median req/s; median of the per-round ratios to the bare endpoint"
          f" and to {first}; every round's req/s")
    for label, values in rates.items():
        of_bare = statistics.median(value / base for value, base in zip(values, rates[bare]))
        of_first = statistics.median(value / base for value, base in zip(values, rates[first]))
        print(f"  {label:40} {statistics.median(values):8,.0f}  {of_bare:5.0%} of bare  {of_first:5.0%} of first"
              f"  ({', '.join(f'{value:,.0f}' for value in values)})", flush=True)


def report_cpu(costs: dict[str, list[tuple[float, ...]]]) -> None:
    """Each tree's median CPU a validation, by where it was spent (wrk's included: it drives every tree alike)."""
    print("  µs of CPU a validation (medians): API processes; beside them (`keyledger project` and `keyledger worker`,"
          " or serve's children); PostgreSQL and Redis; wrk; in all")
    for label, rows in costs.items():
        medians = [statistics.median(column) for column in zip(*rows)]
        print(f"  {label:40} " + "  ".join(f"{value:6.1f}" for value in medians) + f"  {sum(medians):7.1f}")


if __name__ == "__main__":
    main()
