"""Everything that tunes a Waitpoint instance, in one frozen value.

>>> Settings(queues={"default": 10}, shutdown_grace=30)
>>> Settings.from_env()                    # WAITPOINT_QUEUES=default=10,mail=5 ...
>>> Settings.from_toml("waitpoint.toml")   # a [waitpoint] table

`Waitpoint(settings=..., **overrides)` takes one, and any field as a keyword on top.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypedDict

from .sql import check_schema


def _default_queues() -> dict[str, int]:
    return {"default": 10}


@dataclass(frozen=True)
class Settings:
    """queues: {name: concurrency}; {} inserts, signals and manages without running jobs.
    synchronous_acks: producers claim jobs and record outcomes on a connection with
        synchronous_commit=off by default: a database crash may forget the last moments
        of outcomes, and those jobs run again (at-least-once, as after a worker crash);
        it saves one disk flush per batch. Inserts, signals and signal consumption are
        always fully durable. True makes claims and outcomes durable too.
    peer: take part in leadership (staging, rescuing, pruning); False for a client that
        only inserts, signals and inspects.
    pooler: the database URL is a transaction-mode pooler (PgBouncer): no prepared
        statement cache, no session settings (acks are then as durable as the database
        or the pooler's user settings make them), and LISTEN and migrations go to
        `listen_url`, which must reach PostgreSQL directly (they need a session).
    listen_url: the direct URL for LISTEN (and migrations); default: the database URL.
    rescue_after: a node whose producers have not heartbeaten for this long is gone: the
        lifeline (every rescue_interval) makes its executing jobs available again. With
        the default 5 s heartbeat, four missed beats. A node that stops cleanly hands its
        unfinished jobs back at once instead.
    All intervals and ages are seconds.
    """

    queues: Mapping[str, int] = field(default_factory=_default_queues)
    schema: str = "waitpoint"
    node: str | None = None
    migrate: bool = False
    pool_size: int = 10
    poll_interval: float = 1.0
    stage_interval: float = 1.0
    heartbeat_interval: float = 5.0
    rescue_after: float = 20.0
    workflow_repair_after: float = 60.0
    rescue_interval: float = 5.0
    prune_after: float = 86_400.0
    prune_interval: float = 60.0
    leader_interval: float = 5.0
    cron_interval: float = 1.0
    metrics_interval: float = 15.0
    shutdown_grace: float = 15.0
    peer: bool = True
    synchronous_acks: bool = False
    pooler: bool = False
    listen_url: str | None = None

    def __post_init__(self) -> None:
        check_schema(self.schema)
        if self.pooler and not self.listen_url:
            raise ValueError("pooler: LISTEN and migrations need a session, which a "
                             "transaction-mode pooler does not keep: set listen_url to "
                             "PostgreSQL itself")
        queues = dict(self.queues)
        for name, limit in queues.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"queues: {name!r} is not a queue name")
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValueError(f"queues: limit of {name!r} must be an integer of at least 1, "
                                 f"got {limit!r}")
        object.__setattr__(self, "queues", queues)
        if self.pool_size < 1:
            raise ValueError(f"pool_size: must be at least 1, got {self.pool_size}")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], origin: str = "settings") -> Settings:
        """From plain values (a TOML table, parsed environment); `origin` names where they
        came from in errors."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{origin}: unknown setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(known)}")
        converted = {}
        for name, value in values.items():
            try:
                converted[name] = _convert(name, value)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{origin}: {name}: {error}") from None
        try:
            return cls(**converted)
        except ValueError as error:
            raise ValueError(f"{origin}: {error}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 prefix: str = "WAITPOINT_") -> Settings:
        """WAITPOINT_<FIELD> variables (WAITPOINT_QUEUES=default=10,mail=5)."""
        environ = os.environ if environ is None else environ
        names = {f.name for f in fields(cls)}
        values = {name: environ[prefix + name.upper()] for name in names
                  if prefix + name.upper() in environ}
        return cls.from_mapping(values, origin="environment")

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], table: str = "waitpoint") -> Settings:
        """The `[waitpoint]` table of a TOML file (or the file's top level without one)."""
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"{path}: {error}") from None
        values = document.get(table, document)
        if not isinstance(values, dict):
            raise ValueError(f"{path}: [{table}] must be a table")
        return cls.from_mapping(values, origin=str(path))


class SettingsFields(TypedDict, total=False):
    """The fields of Settings as keyword arguments (Waitpoint(**overrides))."""

    queues: Mapping[str, int]
    schema: str
    node: str | None
    migrate: bool
    pool_size: int
    poll_interval: float
    stage_interval: float
    heartbeat_interval: float
    rescue_after: float
    workflow_repair_after: float
    rescue_interval: float
    prune_after: float
    prune_interval: float
    leader_interval: float
    cron_interval: float
    metrics_interval: float
    shutdown_grace: float
    peer: bool
    pooler: bool
    listen_url: str | None
    synchronous_acks: bool


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}


def parse_queues(text: str) -> dict[str, int]:
    """'default=10,approvals=5' -> {'default': 10, 'approvals': 5}; a bare name gets 10."""
    queues: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, limit = part.partition("=")
        try:
            count = int(limit) if limit else 10
        except ValueError:
            raise ValueError(f"{part!r}: expected NAME=LIMIT, e.g. default=10") from None
        if not name.strip() or count < 1:
            raise ValueError(f"{part!r}: expected NAME=LIMIT with LIMIT >= 1")
        queues[name.strip()] = count
    return queues


def _convert(name: str, value: Any) -> Any:
    """Environment values are text; TOML values are typed already."""
    kind = Settings.__dataclass_fields__[name].type
    if name == "queues":
        return parse_queues(value) if isinstance(value, str) else dict(value)
    if not isinstance(value, str):
        return value
    if kind == "bool":
        if value.lower() not in _BOOLEANS:
            raise ValueError(f"expected true or false, got {value!r}")
        return _BOOLEANS[value.lower()]
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "str | None":
        return value or None
    return value
