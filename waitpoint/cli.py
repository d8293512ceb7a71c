"""The `waitpoint` command (`main`, also `python -m waitpoint`): the engine's commands
(migrate, work, jobs, signal, workflow, queue(s), stats) and what every command shares:
the database and schema options, the runner that turns a dead database into one line, the
SIGINT/SIGTERM handler.

A package installed beside the engine adds commands through the entry point group
`waitpoint.commands` (a sequence of click commands; the receiver adds serve, up, console,
check-config, route, record, replay, providers) and its migrations through
`waitpoint.migration_tracks`: the engine imports neither, they find it.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import json
import signal as os_signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

import asyncpg
import click

from . import codec
from ._database import resolve_database_url
from ._errors import MigrationError
from ._instance import Waitpoint
from ._job import Job, JobState
from ._logging import configure_logging
from ._metrics import serve_metrics as serve_metrics
from ._query import QueueView, TableStats
from ._settings import Settings
from ._settings import parse_queues as parse_queue_spec
from ._workflow import WorkflowStatus
from .schema import Migration, MigrationTrack, installed_tracks
from .schema import migrate as apply_migrations
from .sql import check_schema

T = TypeVar("T")

database_option = click.option(
    "--database-url", envvar="DATABASE_URL", default=None,
    help="PostgreSQL URL; default: $DATABASE_URL, else an embedded PostgreSQL.",
)
schema_option = click.option("--schema", default="waitpoint", show_default=True,
                             callback=lambda _c, _p, v: _checked_schema(v),
                             help="Schema holding waitpoint's tables.")


def _checked_schema(value: str) -> str:
    try:
        return check_schema(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def parse_queues(text: str) -> dict[str, int]:
    """'default=10,approvals=5' -> {'default': 10, 'approvals': 5}."""
    try:
        return parse_queue_spec(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--queues") from None


queues_option = click.option("--queues", default="default=10", show_default=True,
                             help="Queues and their concurrency: NAME=LIMIT[,NAME=LIMIT...].")


def run(coroutine: Coroutine[Any, Any, T], *, peer: str | None = None) -> T:
    """asyncio.run() for every command: an unreachable database (or `peer`, when the
    command talks to something else, such as a receiver) or missing migrations is a
    one-line error, not a traceback."""
    try:
        return asyncio.run(coroutine)
    except MigrationError as error:
        raise click.ClickException(str(error)) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            # A socket of ours (--port, --console-port, --metrics-port), not the database.
            raise click.ClickException(
                f"a port is in use by another process: {error}. Stop that process or "
                "choose another port (--port, --console-port, --metrics-port).") from None
        if peer is not None:
            raise click.ClickException(f"cannot reach {peer}: {error}") from None
        raise click.ClickException(
            f"cannot use the database: {type(error).__name__}: {error}. Check "
            "--database-url or DATABASE_URL (with neither, waitpoint starts an embedded "
            "PostgreSQL).") from None


def stop_on_signals() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM: the one signal handler of every command
    that runs until stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (os_signal.SIGINT, os_signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass(frozen=True)
class CliContext:
    """What the group hands its commands: the migration tracks beyond the engine's."""

    migration_tracks: tuple[MigrationTrack, ...] = ()


def migration_tracks() -> tuple[MigrationTrack, ...]:
    context = click.get_current_context().find_object(CliContext)
    return context.migration_tracks if context is not None else ()


def import_modules(modules: tuple[str, ...]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise click.ClickException(f"--import {module}: {error}") from None


async def migrate_database(database_url: str | None, schema: str,
                           tracks: Sequence[MigrationTrack]) -> list[Migration]:
    """Apply the engine's pending migrations and those of `tracks`."""
    conn = await asyncpg.connect(resolve_database_url(database_url))
    try:
        return await apply_migrations(conn, schema, tracks)
    finally:
        await conn.close()


async def run_until_signalled(instance: Waitpoint) -> None:
    """Run `instance` until SIGINT/SIGTERM, then shut it down gracefully."""
    stop = stop_on_signals()
    async with instance:
        await stop.wait()


@click.command()
@database_option
@schema_option
def migrate(database_url: str | None, schema: str) -> None:
    """Apply pending migrations (safe to run from several processes at once)."""
    applied = run(migrate_database(database_url, schema, migration_tracks()))
    click.echo(f"applied {len(applied)} migration(s) to schema {schema!r}"
               + "".join(f"\n  {m.label}" for m in applied))


metrics_port_option = click.option(
    "--metrics-port", type=click.IntRange(1, 65535), default=None,
    help="Serve the workers' Prometheus metrics on this port (/metrics): jobs by outcome, "
         "durations, queue depth and waits (sampled by the leader), signals.")


@click.command()
@database_option
@schema_option
@click.option("--import", "modules", multiple=True, required=True,
              help="Module defining your workers (repeatable), e.g. myapp.workers.")
@queues_option
@click.option("--migrate/--no-migrate", "run_migrations", default=False,
              help="Apply pending migrations before starting.")
@click.option("--shutdown-grace", default=15.0, show_default=True,
              help="Seconds running jobs get to finish on SIGTERM.")
@metrics_port_option
def work(database_url: str | None, schema: str, modules: tuple[str, ...], queues: str,
         run_migrations: bool, shutdown_grace: float, metrics_port: int | None) -> None:
    """Run workers until SIGINT/SIGTERM."""
    sys.path.insert(0, ".")
    import_modules(modules)
    if run_migrations:
        run(migrate_database(database_url, schema, migration_tracks()))
    if metrics_port is not None:
        serve_metrics(metrics_port)
    # WAITPOINT_<SETTING> variables (e.g. WAITPOINT_METRICS_INTERVAL) for the rest.
    instance = Waitpoint(database_url, settings=Settings.from_env(), queues=parse_queues(queues),
                         schema=schema, shutdown_grace=shutdown_grace)
    run(run_until_signalled(instance))


@click.command()
@database_option
@schema_option
@click.option("--state", default=None, type=click.Choice([state.value for state in JobState]),
              help="Only jobs in this state.")
@click.option("--queue", default=None, help="Only jobs of this queue.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def jobs(database_url: str | None, schema: str, state: str | None, queue: str | None,
         limit: int, as_json: bool) -> None:
    """List jobs, newest first."""

    async def list_them() -> list[Any]:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            return await wp.list_jobs(state=state, queue=queue, limit=limit)

    found = run(list_them())
    if as_json:
        for job in found:
            click.echo(json.dumps(_job_json(job)))
        return
    click.echo(f"{'ID':>8}  {'STATE':<10} {'QUEUE':<12} {'ATTEMPT':>7}  WORKER")
    for job in found:
        click.echo(f"{job.id:>8}  {job.state!s:<10} {job.queue:<12} "
                   f"{job.attempt:>3}/{job.max_attempts:<3}  {job.worker}")


def _job_json(job: Job) -> dict[str, Any]:
    """A job for `jobs --json`: the payloads its waits consumed and its recorded value
    decoded from erlpack, as the job sees them."""
    meta = dict(job.meta)
    if "recorded" in meta:
        meta["recorded"] = job.recorded
    if isinstance(meta.get("signals"), dict):
        meta["signals"] = {
            call: ({**entry, "payload": codec.decode_text(entry["payload"])}
                   if isinstance(entry, dict) and "payload" in entry else entry)
            for call, entry in meta["signals"].items()}
    return {"id": job.id, "state": str(job.state), "queue": job.queue, "worker": job.worker,
            "attempt": job.attempt, "args": job.args, "meta": meta, "errors": job.errors,
            "scheduled_at": job.scheduled_at.isoformat() if job.scheduled_at else None}


@click.command("signal")
@database_option
@schema_option
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--key", default=None, help="Correlation key instead of job ids.")
@click.option("--payload", default="null", show_default=True, help="JSON payload.")
@click.option("--keep-for", type=float, default=None,
              help="Seconds a keyed signal nobody waits for is kept (default: forever).")
@click.option("--name", default=None,
              help="The signal's name, for await_signal(name=...) (job ids only).")
def signal_command(database_url: str | None, schema: str, job_ids: tuple[int, ...],
                   key: str | None, payload: str, keep_for: float | None,
                   name: str | None) -> None:
    """Send a signal to JOB_IDS, or to --key waiters."""
    if job_ids and key:
        raise click.UsageError("give JOB_IDS or --key, not both")
    if not job_ids and not key:
        raise click.UsageError("give the JOB_IDS to signal, or --key KEY")
    value = _json_payload(payload)

    async def send() -> list[int]:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            return await wp.signal(list(job_ids) or None, value, key=key, keep_for=keep_for,
                                   name=name)

    try:
        reached = run(send())
    except (TypeError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if key and not reached:
        click.echo(f"no job is waiting on {key!r}: kept for the first that awaits it")
    else:
        click.echo(f"reached {len(reached)} job(s): {' '.join(map(str, reached)) or '-'}")


def _json_payload(payload: str) -> Any:
    try:
        return json.loads(payload)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--payload") from None
    except RecursionError:
        raise click.BadParameter("nested too deeply", param_hint="--payload") from None


@click.group()
def workflow() -> None:
    """Inspect workflows and set their named signals."""


@workflow.command("broadcast")
@database_option
@schema_option
@click.argument("workflow_id", type=int)
@click.argument("name")
@click.option("--payload", default="null", show_default=True, help="JSON payload.")
@click.option("--propagate/--no-propagate", default=True, show_default=True,
              help="Also to its sub-workflows, and to its parent unless it opted out.")
def workflow_broadcast(database_url: str | None, schema: str, workflow_id: int, name: str,
                       payload: str, propagate: bool) -> None:
    """Set WORKFLOW_ID's signal NAME (the latest value wins); steps awaiting it wake."""
    value = _json_payload(payload)

    async def send() -> list[int]:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            return await wp.broadcast_workflow(workflow_id, name, value, propagate=propagate)

    try:
        reached = run(send())
    except (TypeError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    if not reached:
        raise click.ClickException(f"no workflow {workflow_id}")
    click.echo(f"set {name!r} on {len(reached)} workflow(s): {' '.join(map(str, reached))}")


@workflow.command("status")
@database_option
@schema_option
@click.argument("workflow_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
def workflow_status(database_url: str | None, schema: str, workflow_id: int,
                    as_json: bool) -> None:
    """Counts, state, duration and sub-workflows of WORKFLOW_ID."""

    async def look_up() -> WorkflowStatus:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            return await wp.workflow_status(workflow_id)

    try:
        status = run(look_up())
    except LookupError:
        raise click.ClickException(f"no workflow {workflow_id}") from None
    if as_json:
        click.echo(json.dumps(_status_dict(status)))
        return
    _print_status(status, "")


def _status_dict(status: WorkflowStatus) -> dict[str, Any]:
    return {"id": status.id, "name": status.name, "state": status.state,
            "total": status.total, "counts": status.counts,
            "duration_seconds": status.duration.total_seconds(),
            "signals": {name: at.isoformat() for name, at in status.signals.items()},
            "subs": {name: _status_dict(sub) for name, sub in status.subs.items()}}


def _print_status(status: WorkflowStatus, indent: str) -> None:
    label = status.name or f"workflow {status.id}"
    counts = " ".join(f"{state}={count}" for state, count in status.counts.items() if count)
    signals = "".join(f"  signal {name} set {at:%Y-%m-%d %H:%M:%S}"
                      for name, at in status.signals.items())
    click.echo(f"{indent}{label}: {status.state}  total={status.total}  {counts}  "
               f"duration={status.duration.total_seconds():.1f}s{signals}")
    for sub in status.subs.values():
        _print_status(sub, indent + "  ")


@click.command("queues")
@database_option
@schema_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def queues_command(database_url: str | None, schema: str, as_json: bool) -> None:
    """Every running queue, per node: limit, running jobs, paused, available jobs."""

    async def look_up() -> list[QueueView]:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            return await wp.list_queues()

    views = run(look_up())
    if as_json:
        for view in views:
            click.echo(json.dumps({"node": view.node, "queue": view.queue, "limit": view.limit,
                                   "running": view.running, "paused": view.paused,
                                   "available": view.available}))
        return
    if not views:
        click.echo("no node is running a queue")
        return
    click.echo(f"{'queue':<20} {'node':<28} {'limit':>5} {'running':>7} {'paused':>6} "
               f"{'available':>9}")
    for view in views:
        click.echo(f"{view.queue:<20} {view.node:<28} {view.limit:>5} {view.running:>7} "
                   f"{'yes' if view.paused else 'no':>6} {view.available:>9}")


@click.command("stats")
@database_option
@schema_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def stats_command(database_url: str | None, schema: str, as_json: bool) -> None:
    """Each table of the schema: estimated rows, size (with indexes), oldest row."""

    async def look_up() -> list[TableStats]:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            return await wp.table_stats()

    found = run(look_up())
    if as_json:
        for table in found:
            click.echo(json.dumps({"table": table.table, "rows": table.estimated_rows,
                                   "bytes": table.total_bytes,
                                   "oldest": table.oldest.isoformat() if table.oldest
                                   else None}))
        return
    click.echo(f"{'table':<18} {'rows (est.)':>12} {'size':>10}  oldest row")
    for table in found:
        oldest = f"{table.oldest:%Y-%m-%d %H:%M:%S}" if table.oldest else "-"
        click.echo(f"{table.table:<18} {table.estimated_rows:>12} "
                   f"{_size(table.total_bytes):>10}  {oldest}")


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


@click.group("queue")
def queue_group() -> None:
    """Pause, resume or scale a queue on every node, or on one (--node)."""


def _control(database_url: str | None, schema: str, action: str, queue: str,
             node: str | None, limit: int | None = None) -> None:
    async def send() -> None:
        async with Waitpoint.client(database_url, schema=schema) as wp:
            if action == "pause":
                await wp.pause_queue(queue, node=node)
            elif action == "resume":
                await wp.resume_queue(queue, node=node)
            else:
                assert limit is not None
                await wp.scale_queue(queue, limit, node=node)

    run(send())
    where = f"on node {node}" if node else "on every node"
    done = {"pause": "paused", "resume": "resumed"}.get(action, f"scaled to {limit}")
    click.echo(f"queue {queue} {done} {where}")


@queue_group.command("pause")
@database_option
@schema_option
@click.argument("queue")
@click.option("--node", default=None, help="Only this node (default: every node).")
def queue_pause(database_url: str | None, schema: str, queue: str, node: str | None) -> None:
    """Stop claiming jobs of QUEUE; running jobs finish. Survives restarts."""
    _control(database_url, schema, "pause", queue, node)


@queue_group.command("resume")
@database_option
@schema_option
@click.argument("queue")
@click.option("--node", default=None, help="Only this node (default: every node).")
def queue_resume(database_url: str | None, schema: str, queue: str, node: str | None) -> None:
    """Claim jobs of QUEUE again."""
    _control(database_url, schema, "resume", queue, node)


@queue_group.command("scale")
@database_option
@schema_option
@click.argument("queue")
@click.argument("limit", type=click.IntRange(min=1))
@click.option("--node", default=None, help="Only this node (default: every node).")
def queue_scale(database_url: str | None, schema: str, queue: str, limit: int,
                node: str | None) -> None:
    """Run up to LIMIT jobs of QUEUE at once."""
    _control(database_url, schema, "scale", queue, node, limit)


ENGINE_COMMANDS: tuple[click.Command, ...] = (migrate, work, jobs, signal_command, workflow,
                                              queues_command, queue_group, stats_command)
SERVICE_COMMANDS = frozenset({"work", "serve", "up"})
"""Commands that keep running: they log at INFO by default, the others only warnings."""


COMMANDS_ENTRY_POINTS = "waitpoint.commands"


def installed_commands() -> list[click.Command]:
    """The commands of the packages installed beside the engine (entry points of group
    `waitpoint.commands`, each a sequence of click commands), by package name."""
    commands: list[click.Command] = []
    for entry in sorted(metadata.entry_points(group=COMMANDS_ENTRY_POINTS),
                        key=lambda e: e.name):
        offered = entry.load()
        if not all(isinstance(command, click.Command) for command in offered):
            raise TypeError(f"entry point {entry.name} = {entry.value} "
                            f"({COMMANDS_ENTRY_POINTS}) is not a sequence of click commands")
        commands += offered
    return commands


def build_cli(extra_commands: Sequence[click.Command] | None = None,
              tracks: Sequence[MigrationTrack] | None = None) -> click.Group:
    """The `waitpoint` group: the engine's commands, then `extra_commands` (default: the
    installed ones); `migrate` applies the engine's migrations and then `tracks`
    (default: the installed ones)."""
    if extra_commands is None:
        extra_commands = installed_commands()
    context = CliContext(tuple(installed_tracks() if tracks is None else tracks))

    @click.group(context_settings={"obj": context})
    @click.option("--log-level", default=None, envvar="WAITPOINT_LOG_LEVEL",
                  help="DEBUG, INFO, WARNING, ERROR. Default: INFO for the commands that "
                  "keep running (work, serve, up), WARNING for the others.")
    @click.option("-v", "--verbose", is_flag=True, help="Log at INFO (same as --log-level INFO).")
    @click.pass_context
    def main(ctx: click.Context, log_level: str | None, verbose: bool) -> None:
        """waitpoint: durable jobs that wait for signed webhooks."""
        default = "INFO" if ctx.invoked_subcommand in SERVICE_COMMANDS else "WARNING"
        configure_logging(log_level or ("INFO" if verbose else default))

    for command in (*ENGINE_COMMANDS, *extra_commands):
        main.add_command(command)
    return main


def main() -> None:
    """The `waitpoint` command, with every installed package's commands."""
    build_cli()()


if __name__ == "__main__":
    # Run as the imported module, not as __main__: the packages whose commands it loads
    # import waitpoint.cli, and must find the one instance the group is built from.
    from waitpoint.cli import main as imported_main

    imported_main()
