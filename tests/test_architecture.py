"""The shape of the code, checked: no import cycles, every private module covered by the
import contracts, one typed method for every SQL file."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import grimp

from ingest.console.console_sql import ConsoleQuery
from ingest.receiver_sql import InboxQuery
from waitpoint._query import Query
from waitpoint.inspect import Inspector
from waitpoint.sql import read_sql_files

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("waitpoint", "routing", "ingest")


def test_no_module_imports_one_that_imports_it_back():
    graph = grimp.build_graph(*PACKAGES)
    cycles = sorted(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
        if module < imported and graph.chain_exists(importer=imported, imported=module)
    )
    assert cycles == []


def test_every_private_module_is_in_the_import_contracts():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = {module for contract in contracts["contracts"]
                 for module in contract.get("forbidden_modules", [])}
    private = {f"{path.parent.relative_to(ROOT).as_posix().replace('/', '.')}.{path.stem}"
               for package in PACKAGES for path in (ROOT / package).rglob("_*.py")
               if path.stem not in ("__init__", "__main__")}
    assert private - forbidden == set()


def test_only_the_command_line_imports_the_console():
    """The console's contract names every other module of ingest: a new one is added to
    it, or this fails."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in contracts["contracts"]
                   if c.get("forbidden_modules") == ["ingest.console"]]
    modules = {f"ingest.{path.stem}" for path in (ROOT / "ingest").glob("*.py")
               if path.stem not in ("__init__", "cli")}
    modules |= {f"ingest.{path.name}" for path in (ROOT / "ingest").iterdir()
                if (path / "__init__.py").exists() and path.name != "console"}
    assert modules <= set(contract["source_modules"])


def test_every_sql_file_has_one_typed_method():
    """The read model (Inspector) also composes (a job with its signals, the depth from
    the leader's sample or counted): there, every file has its method and may have more."""
    for query, package, folder, fragments in (
            (Query, "waitpoint", "queries", {"job_columns"}),
            (Inspector, "waitpoint", "inspect_queries", set()),
            (InboxQuery, "ingest", "queries", set()),
            (ConsoleQuery, "ingest.console", "queries", set())):
        files = set(read_sql_files(package, folder)) - fragments
        methods = {name for name, member in inspect.getmembers(query)
                   if inspect.iscoroutinefunction(member)}
        if query is Inspector:
            assert files <= methods, query.__name__
        else:
            assert files == methods, query.__name__
        for name in methods:
            hints = inspect.get_annotations(getattr(query, name))
            assert "return" in hints and len(hints) >= 2, f"{query.__name__}.{name}"


LANDED_RECEIVER_MIGRATIONS = frozenset({
    "001_events.sql", "002_workflow_deliveries.sql", "003_ingest_index_lookup.sql",
    "004_keyed_signals_without_expiry.sql", "005_typed_ingest.sql",
    "006_event_retention.sql", "007_console.sql",
})
"""Migrations written before the engine owned every read and write of its tables: applied
as they are, never edited. Every later file is held to the rule below."""


def engine_tables() -> set[str]:
    """The tables the engine's migrations create."""
    created = re.compile(r"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                         r"\{schema\}\.(\w+)", re.IGNORECASE)
    return {name for path in (ROOT / "waitpoint" / "migrations").glob("*.sql")
            for name in created.findall(path.read_text())}


def test_the_receiver_names_no_engine_table():
    """The engine owns its tables: the receiver (its SQL, its console's, its migrations
    from now on) calls the engine's functions and its read model (waitpoint.inspect), and
    never reads or writes jobs, signals, workflows or the samples itself."""
    tables = engine_tables()
    assert {"jobs", "signals", "workflows", "workflow_signals", "queue_samples"} <= tables
    named = re.compile(r"\{schema\}\.(\w+)\b(?!\s*\()")  # a table, not a function call
    offenders = []
    for path in sorted((ROOT / "ingest").rglob("*")):
        if path.suffix not in (".sql", ".py") or path.name in LANDED_RECEIVER_MIGRATIONS:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            offenders += [f"{path.relative_to(ROOT)}:{number}: {table}"
                          for table in named.findall(line) if table in tables]
    assert offenders == []


def test_the_engines_tests_use_nothing_of_the_receiver():
    """The engine's tests run on the engine (and its fixtures) alone: a receiver module
    or its routing imported there would hide a dependency the engine must not have."""
    graph = grimp.build_graph("tests", *PACKAGES)
    engine_tests = {m for m in graph.modules if m.startswith("tests.waitpoint")}
    imported = {(m, i) for m in engine_tests for i in graph.find_modules_directly_imported_by(m)
                if i.split(".")[0] in ("ingest", "routing") or i.startswith("tests.ingest")}
    assert imported == set()
