"""The shape of the code, checked: no import cycles, every private module covered by the
import contracts, one typed method for every SQL file."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import grimp

from ingest.console.query import ConsoleQuery
from ingest.query import InboxQuery
from waitpoint._query import Query
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
               if path.stem != "__init__"}
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
    for query, package, fragments in ((Query, "waitpoint", {"job_columns"}),
                                      (InboxQuery, "ingest", set()),
                                      (ConsoleQuery, "ingest.console", set())):
        files = set(read_sql_files(package, "queries")) - fragments
        methods = {name for name, member in inspect.getmembers(query)
                   if inspect.iscoroutinefunction(member)}
        assert files == methods, query.__name__
        for name in methods:
            hints = inspect.get_annotations(getattr(query, name))
            assert "return" in hints and len(hints) >= 2, f"{query.__name__}.{name}"
