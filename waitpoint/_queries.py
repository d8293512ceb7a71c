"""SQL statements, one per file under queries/ and migrations/, bound to a schema."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


def check_schema(schema: str) -> str:
    """Schema names go into SQL text and channel names, so only plain identifiers pass."""
    if not SCHEMA_PATTERN.match(schema):
        raise ValueError(
            f"schema: {schema!r} must be a lower-case identifier (letters, digits, _; "
            "at most 40 characters)"
        )
    return schema


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def _read_queries() -> dict[str, str]:
    folder = resources.files("waitpoint") / "queries"
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


_RAW = _read_queries()
_JOB_COLUMNS = _strip_comments(_RAW.pop("job_columns")).strip()


def render(sql: str, schema: str) -> str:
    return sql.replace("{job_columns}", _JOB_COLUMNS).replace("{schema}", check_schema(schema))


@cache
def queries_for(schema: str) -> Queries:
    return Queries(schema)


class Queries:
    """Attribute access to rendered statements: `queries_for("waitpoint").fetch_jobs`."""

    def __init__(self, schema: str) -> None:
        self.schema = check_schema(schema)
        for name, sql in _RAW.items():
            setattr(self, name, render(sql, schema))

    def channel(self, name: str) -> str:
        return f"{self.schema}_{name}"


def migrations_folder() -> Path:
    """Migrations ship inside the wheel as waitpoint/_migrations; a checkout has migrations/."""
    packaged = Path(str(resources.files("waitpoint"))) / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "migrations"
