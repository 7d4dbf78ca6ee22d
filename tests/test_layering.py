"""DESIGN.md's layout table, enforced: which of our packages each package may import, and a clock-free domain.

Every .py file under the layered packages is parsed with `ast` (nothing is imported), so a
forbidden import fails here even when it sits in a function body or under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = frozenset({"domain", "adapters", "commands", "projections", "api", "workers", "keys", "keyledger", "tests"})

# "may import" from DESIGN.md's layout table (a package may always import itself). adapters may import
# only the Protocols of commands and projections (PROTOCOLS_ONLY); api, nothing of keyledger.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "commands": frozenset({"domain", "keys"}),
    "projections": frozenset({"domain"}),
    "adapters": frozenset({"domain", "commands", "projections"}),
    "api": frozenset({"commands", "projections", "keys", "domain"}),
    "workers": frozenset({"commands", "projections", "keys", "domain"}),
    "keys": frozenset(),
}
PROTOCOLS_ONLY = {"adapters": frozenset({"commands", "projections"})}
"""Rooms a package may import Protocol classes from, and nothing else."""
DOMAIN_THIRD_PARTY = frozenset({"eventsourcing.domain"})
"""The only non-stdlib import the pure domain may have."""
DRIVERS = frozenset({"psycopg", "psycopg_pool", "sqlite3", "redis"})
DRIVER_FREE = frozenset({"domain", "commands"})
"""Rooms the composition root hands a store to: they never import a driver themselves."""

CLOCK_READS = {"datetime": {"now", "utcnow", "today"}, "date": {"today"},
               "time": {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"}}


def modules(package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT)
        yield ".".join(relative.with_suffix("").parts), ast.parse(path.read_text(), filename=str(relative))


def imported_names(module_name: str, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every absolute module name an import statement names (relative imports resolved)."""
    package_parts = module_name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package_parts[: len(package_parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if node.module is None or node.level:
                # `from . import x` / `from .pkg import x`: the names may be modules themselves.
                for alias in node.names:
                    yield node.lineno, ".".join(part for part in (base, alias.name) if part)
            else:
                yield node.lineno, base


def is_allowed(name: str, allowed: frozenset[str]) -> bool:
    return any(name == entry or name.startswith(entry + ".") for entry in allowed)


def protocol_names(module_name: str) -> frozenset[str]:
    """The classes `module_name` (one of our modules) defines with Protocol among their bases."""
    path = ROOT.joinpath(*module_name.split(".")).with_suffix(".py")
    if not path.is_file():
        return frozenset()
    tree = ast.parse(path.read_text())
    return frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef) and any(
        (base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)) == "Protocol"
        for base in node.bases))


def non_protocol_imports(module_name: str, tree: ast.Module, rooms: frozenset[str]) -> Iterator[tuple[int, str]]:
    """Imports of `rooms` that bring in anything but a Protocol class (a whole module counts as anything)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] in rooms)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in rooms and not node.level:
            protocols = protocol_names(node.module or "")
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                        if alias.name not in protocols)


def import_violations(package: str, parsed: list[tuple[str, ast.Module]]) -> list[str]:
    allowed = MAY_IMPORT[package] | {package}
    protocol_rooms = PROTOCOLS_ONLY.get(package, frozenset())
    violations = []
    for module_name, tree in parsed:
        violations += [f"{module_name}:{line} imports {name} (only Protocols of {sorted(protocol_rooms)})"
                       for line, name in non_protocol_imports(module_name, tree, protocol_rooms)]
        for line, name in imported_names(module_name, tree):
            top = name.split(".")[0]
            if top in protocol_rooms:
                continue
            if top in OURS and not is_allowed(name, allowed):
                violations.append(f"{module_name}:{line} imports {name}")
            elif package in DRIVER_FREE and top in DRIVERS:
                violations.append(f"{module_name}:{line} imports {name} (a driver: the wiring hands one over)")
            elif package == "domain" and top not in OURS and top not in sys.stdlib_module_names \
                    and not is_allowed(name, DOMAIN_THIRD_PARTY):
                violations.append(f"{module_name}:{line} imports {name} (the domain is framework-free)")
    return violations


def clock_reads(parsed: list[tuple[str, ast.Module]]) -> list[str]:
    """Calls like datetime.now(), datetime.datetime.utcnow(), time.time(), and `from time import time`."""
    found = []
    for module_name, tree in parsed:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
                if node.func.attr in CLOCK_READS.get(owner_name, ()):
                    found.append(f"{module_name}:{node.lineno} calls {owner_name}.{node.func.attr}()")
            elif isinstance(node, ast.ImportFrom) and node.module == "time":
                for alias in node.names:
                    if alias.name in CLOCK_READS["time"]:
                        found.append(f"{module_name}:{node.lineno} imports time.{alias.name}")
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_package_imports_only_what_the_layout_table_allows(package):
    parsed = list(modules(package))

    assert parsed, f"{package}/ has no modules: the layout table names a missing room"
    violations = import_violations(package, parsed)
    assert not violations, f"{package}/ may import only {sorted(MAY_IMPORT[package])} of ours:\n" + "\n".join(
        violations)


def test_domain_never_reads_the_clock():
    found = clock_reads(list(modules("domain")))

    assert not found, "domain/ takes time as `at`, it never reads the clock:\n" + "\n".join(found)


def memos(parsed: list[tuple[str, ast.Module]]) -> list[str]:
    """Uses of functools' caches: speed tricks belong at the edge where they pay (STYLE.md, 36)."""
    return [f"{module_name}:{node.lineno} uses functools.{name}" for module_name, tree in parsed
            for node in ast.walk(tree) for name in ("lru_cache", "cache")
            if (isinstance(node, ast.Name) and node.id == name) or (isinstance(node, ast.Attribute) and node.attr == name)]


def test_domain_keeps_no_memo():
    found = memos(list(modules("domain")))

    assert not found, "domain/ is plain: memos go to the answer and call-row builders:\n" + "\n".join(found)


def type_ignores(sources: list[tuple[str, str]]) -> list[str]:
    """`# type: ignore` comments: where the types gave up (comments only, not strings that mention one)."""
    return [f"{module_name}:{token.start[0]}" for module_name, source in sources
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT and "type: ignore" in token.string]


@pytest.mark.parametrize("package", ["domain", "commands"])
def test_domain_and_commands_keep_their_types(package):
    sources = [(".".join(path.relative_to(ROOT).with_suffix("").parts), path.read_text())
               for path in sorted((ROOT / package).rglob("*.py"))]

    found = type_ignores(sources)

    assert not found, f"{package}/ states its types (the guards return `Admitted`):\n" + "\n".join(found)


# Check the checkers themselves catch what they are meant to (so a pass above means something).

def parsed_source(module_name: str, source: str) -> list[tuple[str, ast.Module]]:
    return [(module_name, ast.parse(source))]


@pytest.mark.parametrize("package, source, offender", [
    ("domain", "from projections.licenses import list_licenses", "projections.licenses"),
    ("domain", "import litestar", "litestar"),
    ("domain", "from eventsourcing.application import Application", "eventsourcing.application"),
    ("domain", "def f():\n    import msgspec", "msgspec"),
    ("projections", "from commands.ledger import Ledger", "commands.ledger"),
    ("projections", "from .. import commands", "commands"),
    ("api", "from keyledger.cli import main", "keyledger.cli"),
    ("api", "from keyledger.wiring import Runtime", "keyledger.wiring"),
    ("api", "from keyledger.settings import Settings", "keyledger.settings"),
    ("api", "from workers.projector import Projector", "workers.projector"),
    ("keys", "from domain.ids import NAMESPACE", "domain.ids"),
    ("commands", "from api.errors import EXCEPTION_HANDLERS", "api.errors"),
    ("api", "from adapters.answers import AnswerTable", "adapters.answers"),
    ("adapters", "from api.app import create_app", "api.app"),
    ("adapters", "from keys.signing import sign", "keys.signing"),
    ("adapters", "from commands.ledger import Ledger", "commands.ledger.Ledger"),
    ("adapters", "from projections.db import unreachable", "projections.db.unreachable"),
    ("adapters", "import commands.ports", "commands.ports"),
    ("commands", "import sqlite3", "sqlite3"),
    ("commands", "def f():\n    import psycopg", "psycopg"),
    ("commands", "from redis import Redis", "redis"),
])
def test_import_checker_names_the_offending_module_and_import(package, source, offender):
    violations = import_violations(package, parsed_source(f"{package}.sample", source))

    assert len(violations) == 1 and violations[0].startswith(f"{package}.sample:") and offender in violations[0]


@pytest.mark.parametrize("package, source", [
    ("domain", "from domain.ids import NAMESPACE\nfrom eventsourcing.domain import Aggregate\nimport hmac"),
    ("api", "from api.ports import Services\nfrom domain.account import Actor\nimport litestar"),
    ("projections", "from .base import iso\nfrom domain.license import License\nimport psycopg"),
    ("adapters", "from commands.ports import CallStore, HeadSource\nfrom projections.db import ReadStore\n"
                 "from domain.ids import NAMESPACE\nimport psycopg"),
])
def test_import_checker_accepts_allowed_imports(package, source):
    assert import_violations(package, parsed_source(f"{package}.sub.sample", source)) == []


@pytest.mark.parametrize("source", [
    "from functools import lru_cache\n@lru_cache(maxsize=8)\ndef f(x):\n    return x",
    "import functools\n@functools.cache\ndef f(x):\n    return x",
])
def test_memo_checker_catches_functools_caches(source):
    assert len(memos(parsed_source("domain.sample", source))) == 1


def test_type_ignore_checker_reads_comments_not_strings():
    source = "x = y.z  # type: ignore[attr-defined]\nhelp = '# type: ignore'\n"

    assert type_ignores([("domain.sample", source)]) == ["domain.sample:1"]


@pytest.mark.parametrize("source", [
    "from datetime import datetime\ndef f():\n    return datetime.now()",
    "import datetime\ndef f():\n    return datetime.datetime.utcnow()",
    "import time\nx = time.time()",
    "from time import monotonic",
])
def test_clock_checker_catches_clock_reads(source):
    assert len(clock_reads(parsed_source("domain.sample", source))) == 1
