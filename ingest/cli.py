"""The receiver's commands of `waitpoint` (waitpoint.cli): those that read a routing
config or run the receiver and its console. The engine imports neither routing nor ingest:
it finds these through the entry point group `waitpoint.commands` (COMMANDS).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

import routing
from waitpoint import Settings, Waitpoint, resolve_database_url
from waitpoint.cli import (
    database_option,
    import_modules,
    metrics_port_option,
    migrate_database,
    parse_queues,
    queues_option,
    run,
    schema_option,
    serve_metrics,
    stop_on_signals,
)
from waitpoint.schema import ensure_current

from . import verify as verification
from .console import ConsoleAccess, ConsoleRefused, serve_console
from .context import ReceiverLimits
from .prepared import describe
from .receiver_sql import RECEIVER_TRACKS
from .server import run_processes, self_command
from .server import serve as serve_app


def load_config(file: Path) -> routing.RoutingConfig:
    """The config, or every problem in it as a one-screen error (exit 1)."""
    try:
        return routing.load_config(file)
    except routing.ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.command("check-config")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check_config(file: Path) -> None:
    """Validate a routing config: one line per source, or every error (exit 1)."""
    config = load_config(file)
    for source in config.sources.values():
        delivery_id = source.delivery_id.source if source.delivery_id else "body hash"
        click.echo(f"{source.name}: {source.path}  scheme={source.scheme}  "
                   f"routes={len(source.routes)}  delivery_id={delivery_id}")


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, separator, text = value.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{value!r}: expected KEY=VALUE", param_hint=option)
        pairs[key] = text
    return pairs


@click.command("route")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", "source_name", default=None, help="Source name (or use --path).")
@click.option("--path", "request_path", default=None,
              help="Request path, e.g. /callbacks/partner/42 (fills params).")
@click.option("--body", "body_file", required=True, type=click.File("rb"),
              help="File with the raw request body ('-' for stdin).")
@click.option("--header", "headers", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--query", "query", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--param", "params", multiple=True, help="Path parameter KEY=VALUE (repeatable).")
def route_command(file: Path, source_name: str | None, request_path: str | None, body_file: Any,
                  headers: tuple[str, ...], query: tuple[str, ...],
                  params: tuple[str, ...]) -> None:
    """Dry run: print the deliveries a callback would produce. Verifies and stores nothing.
    Exits 1 when a route fails to evaluate (a missing id, a payload that cannot be stored)."""
    config = load_config(file)
    path_params: dict[str, str] = {}
    if request_path is not None:
        found = config.match(request_path)
        if found is None:
            raise click.BadParameter(f"no source serves {request_path}", param_hint="--path")
        source, path_params = found
    elif source_name is not None:
        if source_name not in config.sources:
            raise click.BadParameter(f"no source {source_name!r}; sources: "
                                     f"{', '.join(config.sources)}", param_hint="--source")
        source = config.sources[source_name]
    else:
        raise click.UsageError("give --source or --path")
    header_map = _pairs(headers, "--header")
    if not any(k.lower() == "content-type" for k in header_map):
        header_map["content-type"] = "application/json"
    callback = routing.Callback(body=body_file.read(), headers=header_map,
                                query=_pairs(query, "--query"),
                                params={**path_params, **_pairs(params, "--param")})
    try:
        result = routing.evaluate(source, callback)
    except routing.BodyError as error:
        raise click.ClickException(f"body: {error}") from None
    described = describe(result)
    click.echo(json.dumps(described, indent=2, ensure_ascii=False))
    if described["errors"] or any("payload_error" in d for d in described["deliveries"]):
        # A route that matched but could not deliver is what a config fix is for.
        sys.exit(1)


config_option = click.option("--config", "config_file", required=True,
                             type=click.Path(dir_okay=False, path_type=Path),
                             help="Routing config (YAML).")
host_option = click.option("--host", default="127.0.0.1", show_default=True)
port_option = click.option("--port", default=8080, show_default=True, type=int)


def _limits(_ctx: click.Context, _param: click.Parameter,
            values: tuple[str, ...]) -> ReceiverLimits:
    known = {f.name: f for f in dataclasses.fields(ReceiverLimits)}
    changes: dict[str, Any] = {}
    for name, text in _pairs(values, "--limit").items():
        if name not in known:
            raise click.BadParameter(f"{name!r}: limits are {', '.join(known)}",
                                     param_hint="--limit")
        kind = int if known[name].type == "int" else float
        try:
            changes[name] = kind(text)
        except ValueError:
            raise click.BadParameter(f"{name}={text!r}: expected a number",
                                     param_hint="--limit") from None
        if changes[name] <= 0:
            raise click.BadParameter(f"{name} must be positive", param_hint="--limit")
    return dataclasses.replace(ReceiverLimits(), **changes)


limit_option = click.option(
    "--limit", "limits", multiple=True, callback=_limits, metavar="NAME=VALUE",
    help="A receiver limit (repeatable): keepalive_timeout, body_timeout, max_connections, "
    "max_connections_per_client, max_in_flight, max_pending, commit_timeout; see "
    "docs/architecture.md.")


def receiver_options(command: Any) -> Any:
    """The options every command that runs the receiver takes."""
    for option in (limit_option, port_option, host_option, schema_option, database_option,
                   config_option):
        command = option(command)
    return command


@click.command()
@receiver_options
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes sharing the port (SO_REUSEPORT); one Python process uses one core.")
@click.option("--reuse-port", is_flag=True, hidden=True)
@click.option("--record", "record_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Write every request (rejected ones too) to DIR as recordings.")
def serve(config_file: Path, database_url: str | None, schema: str, host: str, port: int,
          limits: ReceiverLimits, workers: int, reuse_port: bool,
          record_dir: Path | None) -> None:
    """Receive webhooks for every source of the config (no job processing)."""
    config = load_config(config_file)
    if workers > 1:
        url = resolve_database_url(database_url)
        command = [*self_command(), "serve", "--config", str(config_file), "--database-url",
                   url, "--schema", schema, "--host", host, "--port", str(port),
                   "--workers", "1", "--reuse-port"]
        if record_dir is not None:
            command += ["--record", str(record_dir)]
        for field in dataclasses.fields(limits):
            command += ["--limit", f"{field.name}={getattr(limits, field.name)}"]
        sys.exit(run_processes(command, workers))

    # A client (no queues, no leadership), with WAITPOINT_* settings (e.g. WAITPOINT_POOLER
    # and WAITPOINT_LISTEN_URL behind PgBouncer).
    instance = Waitpoint(database_url, settings=Settings.from_env(), queues={}, peer=False,
                         schema=schema)
    run(_run_receiver(config, instance, host, port, limits, reuse_port=reuse_port,
                      record_dir=record_dir))


async def _run_receiver(config: routing.RoutingConfig, instance: Waitpoint, host: str,
                        port: int, limits: ReceiverLimits, *, reuse_port: bool = False,
                        record_dir: Path | None = None,
                        console: ConsoleSite | None = None) -> None:
    """Until SIGINT/SIGTERM: stop receiving (and the console) first, then the engine."""
    stop = stop_on_signals()
    async with instance:
        async with instance.pool.acquire() as conn:
            await ensure_current(conn, instance.schema, RECEIVER_TRACKS)
        serving = [serve_app(config, instance, host, port, stop, reuse_port=reuse_port,
                             record_dir=record_dir, limits=limits)]
        if console is not None:
            serving.append(serve_console(config, instance, console.access, console.host,
                                         console.port, stop))
        await asyncio.gather(*serving)


@dataclasses.dataclass(frozen=True)
class ConsoleSite:
    host: str
    port: int
    access: ConsoleAccess


def console_site(host: str, port: int, read_only: bool, webhook_port: int | None) -> ConsoleSite:
    """Where the console listens and who may use it; a usage error when it cannot start
    safely (an exposed address without a password, the webhook port)."""
    if port == webhook_port:
        raise click.UsageError(f"the console needs a port of its own, not the webhook port "
                               f"{port}")
    try:
        access = ConsoleAccess.from_env(host=host, read_only=read_only)
    except ConsoleRefused as refusal:
        raise click.UsageError(str(refusal)) from None
    return ConsoleSite(host, port, access)


console_host_option = click.option(
    "--console-host", default="127.0.0.1", show_default=True,
    help="Where --console-port listens; other than loopback needs WAITPOINT_CONSOLE_PASSWORD.")
console_port_option = click.option(
    "--console-port", type=int, default=None,
    help="Serve the operator console on this port too (e.g. 8081).")


@click.command("console")
@click.option("--config", "config_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Routing config (YAML).")
@database_option
@schema_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Other than loopback needs WAITPOINT_CONSOLE_PASSWORD.")
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--read-only", is_flag=True, help="Show everything, allow no action.")
def console_command(config_file: Path, database_url: str | None, schema: str, host: str,
                    port: int, read_only: bool) -> None:
    """Serve the operator console: deliveries, jobs, waits, workflows and sources, with
    actions (cancel, retry, resume, signal, route again, pause a source). Password:
    WAITPOINT_CONSOLE_PASSWORD (full) and WAITPOINT_CONSOLE_READONLY_PASSWORD."""
    config = load_config(config_file)
    site = console_site(host, port, read_only, webhook_port=None)
    instance = Waitpoint(database_url, settings=Settings.from_env(), queues={}, peer=False,
                         schema=schema)

    async def run_console() -> None:
        stop = stop_on_signals()
        async with instance:
            async with instance.pool.acquire() as conn:
                await ensure_current(conn, instance.schema, RECEIVER_TRACKS)
            await serve_console(config, instance, site.access, site.host, site.port, stop)

    run(run_console())


@click.command()
@receiver_options
@click.option("--import", "modules", multiple=True, help="Module defining your workers.")
@queues_option
@metrics_port_option
@console_port_option
@console_host_option
def up(config_file: Path, database_url: str | None, schema: str, host: str, port: int,
       limits: ReceiverLimits, modules: tuple[str, ...], queues: str,
       metrics_port: int | None, console_port: int | None, console_host: str) -> None:
    """Migrate, receive webhooks and run workers, in one process (embedded PostgreSQL
    unless DATABASE_URL is set): the one-command developer setup. The receiver's metrics
    are on its /metrics; --metrics-port serves the workers' too; --console-port serves
    the operator console."""
    console = (console_site(console_host, console_port, False, webhook_port=port)
               if console_port is not None else None)
    sys.path.insert(0, ".")
    import_modules(modules)
    if metrics_port is not None:
        serve_metrics(metrics_port)
    config = load_config(config_file)
    settings = Settings.from_env()
    # Migrations need a session: PostgreSQL itself, not a pooler (WAITPOINT_LISTEN_URL).
    run(migrate_database(settings.listen_url or database_url, schema, RECEIVER_TRACKS))
    instance = Waitpoint(database_url, settings=settings, queues=parse_queues(queues),
                         schema=schema)
    run(_run_receiver(config, instance, host, port, limits, console=console))


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--url", default=None, help="Base URL of a running receiver, e.g. "
              "http://127.0.0.1:8080 (replaying recordings).")
@click.option("--resign", is_flag=True, help="Sign each recording again with the source's "
              "secret and a fresh timestamp (needs --config).")
@click.option("--config", "config_file", default=None,
              type=click.Path(dir_okay=False, path_type=Path), help="Routing config (YAML).")
@click.option("--signing-key", "signing_keys", multiple=True, metavar="SOURCE=PEM_FILE",
              help="With --resign: the private key to sign a public-key source with "
              "(Discord, SendGrid, Plaid, JWT), matching the public key in the config.")
@click.option("--events", is_flag=True, help="Route stored events again instead (needs "
              "--config and the database).")
@click.option("--source", default=None, help="With --events: only this source.")
@click.option("--since", default=None, callback=lambda _c, _p, value: _since(value),
              help="With --events: ISO time, or 30m / 2h / 7d ago.")
@click.option("--outcome", default=None, help="With --events: only this outcome, e.g. unrouted.")
@click.option("--id", "event_ids", multiple=True, type=int, help="With --events: these ids.")
@click.option("--force", is_flag=True, help="With --events: also events that already "
              "signalled (signals them again).")
@database_option
@schema_option
def replay(paths: tuple[Path, ...], url: str | None, resign: bool, config_file: Path | None,
           signing_keys: tuple[str, ...], events: bool, source: str | None,
           since: datetime | None, outcome: str | None,
           event_ids: tuple[int, ...], force: bool, database_url: str | None,
           schema: str) -> None:
    """Send recordings to a receiver, or route stored events again; print a summary."""
    from .recording_file import RecordingError, load_recording, recording_files
    from .replay import replay_events, send_recording

    config = load_config(config_file) if config_file is not None else None
    if events:
        if config is None:
            raise click.UsageError("--events needs --config")

        async def run_events() -> list[Any]:
            async with Waitpoint.client(database_url, schema=schema) as wp:
                return await replay_events(
                    wp, config, source=source, since=since,
                    outcome=outcome, ids=list(event_ids) or None, force=force)

        _print_results(run(run_events()))
        return
    if not paths or url is None:
        raise click.UsageError("give recording files or directories and --url (or --events)")
    if resign and config is None:
        raise click.UsageError("--resign needs --config")
    keys = _signing_keys(signing_keys)
    try:
        files = recording_files(list(paths))
        recordings = [(file, load_recording(file)) for file in files]
    except RecordingError as error:
        raise click.ClickException(str(error)) from None

    async def run_files() -> list[Any]:
        import aiohttp

        results = []
        async with aiohttp.ClientSession() as session:
            with click.progressbar(recordings, label="replaying", file=sys.stderr,
                                   hidden=len(recordings) < 20) as bar:
                for file, recording in bar:
                    results.append(await send_recording(session, url, recording, str(file),
                                                        config if resign else None, keys))
        return results

    try:
        results = run(run_files(), peer=f"the receiver at {url}")
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _print_results(results)
    if any(result.mismatch for result in results):
        sys.exit(1)


def _since(value: str | None) -> datetime | None:
    from .replay import parse_since

    try:
        return None if value is None else parse_since(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None


def _signing_keys(options: tuple[str, ...]) -> dict[str, bytes]:
    keys = {}
    for option in options:
        source, separator, file = option.partition("=")
        if not separator or not source or not file:
            raise click.UsageError(f"--signing-key {option!r}: expected SOURCE=PEM_FILE")
        try:
            keys[source] = Path(file).read_bytes()
        except OSError as error:
            raise click.UsageError(f"--signing-key {option!r}: {error.strerror}") from None
    return keys


@click.command()
@click.option("--config", "config_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Routing config (YAML).")
@click.option("--source", "source_name", required=True, help="The source it is sent to.")
@click.option("--body", "body_file", required=True, type=click.File("rb"),
              help="File with the raw request body ('-' for stdin).")
@click.option("--header", "headers", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--query", "query", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--path", "request_path", default=None,
              help="Request path; default: the source's path (give it when that has {params}).")
@click.option("--signing-key", "signing_key", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="PEM private key, for public-key sources (Discord, SendGrid, Plaid, JWT).")
@click.option("--note", default=None, help="Why this recording exists.")
@click.option("--out", "out_file", default="-", type=click.File("w"),
              help="Where to write the recording (default: standard output).")
def record(config_file: Path, source_name: str, body_file: Any, headers: tuple[str, ...],
           query: tuple[str, ...], request_path: str | None, signing_key: Path | None,
           note: str | None, out_file: Any) -> None:
    """Make a recording without a server: the body signed as the source's provider would
    sign it now (secrets from the config's environment), with what routing makes of it as
    the recording's `expect`. `waitpoint replay` and the pytest fixtures send it."""
    from .prepared import prepare
    from .recording_file import Outcome, Recording

    config = load_config(config_file)
    source = config.sources.get(source_name)
    if source is None:
        raise click.BadParameter(f"no source {source_name!r}; sources: "
                                 f"{', '.join(config.sources)}", param_hint="--source")
    path = request_path or source.path
    params = source.match(path)
    if params is None:
        raise click.BadParameter(f"{path} is not a path of source {source_name!r} "
                                 f"({source.path})", param_hint="--path")
    header_map = {k.lower(): v for k, v in _pairs(headers, "--header").items()}
    header_map.setdefault("content-type", "application/json")
    query_map = _pairs(query, "--query")
    body = body_file.read()
    verifier = verification.build_verifier(source.verifier)
    # URL-signing schemes (Twilio, {url} templates) sign where the request goes: the
    # source's public URL, else the receiver's default address.
    base = getattr(source.verifier, "public_url", None) or "http://127.0.0.1:8080"
    extra: dict[str, Any] = {"url": str(base).rstrip("/") + path, "headers": header_map}
    if signing_key is not None:
        extra["private_key"] = signing_key.read_bytes()
    try:
        body = verifier.refresh_body(body, int(time.time()))
        signed = verifier.sign(body, timestamp=int(time.time()), **extra)
    except ValueError as error:
        raise click.ClickException(f"cannot sign for {source_name}: {error}") from None
    try:
        prepared = prepare(routing.evaluate(source, routing.Callback(
            body=body, headers=header_map, query=query_map, params=params)))
        expect = Outcome(status=prepared.status, outcome=prepared.outcome)
    except routing.BodyError as error:
        raise click.ClickException(f"body: {error}") from None
    recording = Recording.of_request(
        source_name, "POST", path, query_map,
        {**header_map, **{k.lower(): v for k, v in signed.items()}}, body, note=note,
        expect=expect)
    out_file.write(recording.dumps())
    click.echo(f"recorded a {source.scheme} callback to {path}: expect {expect.status} "
               f"{expect.outcome}", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--markdown", is_flag=True, help="The README's providers table.")
def providers(as_json: bool, markdown: bool) -> None:
    """List every verification scheme: what it checks, the options it takes (`name` is
    required, `name?` optional, `name=value` has that default), its headers, its default
    delivery id and its handshake."""
    from routing.presets import PRESETS, preset_options

    if markdown:
        click.echo(providers_table())
        return
    rows: list[dict[str, Any]] = [
        {"scheme": p.name, "provider": p.provider, "verifies": p.verifies,
         "options": [{"name": o.name, "required": o.required, "default": o.default,
                      "spelled": str(o)} for o in preset_options(p.name)],
         "headers": list(p.headers), "delivery_id": p.delivery_id or "body hash",
         "tolerance": p.tolerance, "handshake": p.handshake}
        for p in PRESETS.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for row in rows:
        click.echo(f"{row['scheme']}  ({row['provider']})")
        click.echo(f"    verifies:    {row['verifies']}")
        click.echo(f"    options:     {', '.join(o['spelled'] for o in row['options'])}")
        if row["headers"]:
            click.echo(f"    headers:     {', '.join(row['headers'])}")
        click.echo(f"    delivery id: {row['delivery_id']}")
        if row["tolerance"]:
            click.echo(f"    tolerance:   {row['tolerance']} s")
        if row["handshake"]:
            click.echo(f"    handshake:   {row['handshake']}")


def providers_table() -> str:
    """The README's table of schemes, from the code (a test keeps the README equal)."""
    from routing.presets import PRESETS, preset_options

    lines = ["| scheme | provider | verifies | options | delivery id | handshake |",
             "| --- | --- | --- | --- | --- | --- |"]
    for p in PRESETS.values():
        options = ", ".join(f"`{o}`" for o in preset_options(p.name))
        delivery_id = f"`{p.delivery_id}`" if p.delivery_id else "body hash"
        verifies = p.verifies.replace("|", "\\|").replace("<", "\\<")
        cells = [f"`{p.name}`", p.provider, verifies, options,
                 delivery_id, p.handshake or ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _print_results(results: list[Any]) -> None:
    width = max([len(r.name) for r in results] + [4])
    click.echo(f"{'FILE':<{width}}  STATUS  {'OUTCOME':<26} SIGNALS")
    for r in results:
        status = str(r.status) if r.status else "-"
        line = f"{r.name:<{width}}  {status:<6}  {r.outcome:<26} {r.signals}"
        click.echo(line + (f"  MISMATCH: {r.mismatch}" if r.mismatch else ""))
    mismatched = sum(1 for r in results if r.mismatch)
    click.echo(f"{len(results)} replayed, {mismatched} differing from their expectation")


COMMANDS = (check_config, route_command, serve, up, console_command, record, replay, providers)
"""What the receiver adds to `waitpoint` (entry point waitpoint.commands: ingest)."""
