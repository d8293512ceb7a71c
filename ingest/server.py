"""Run the receiver: one process, or N processes sharing a port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

import routing
from waitpoint import Waitpoint
from waitpoint.retry import Backoff

from .app import create_app
from .callbacks import CallbackSigner, configure_callbacks, signer_from_env
from .context import ReceiverLimits

log = structlog.get_logger("ingest.server")


def callback_signer(config: routing.RoutingConfig) -> CallbackSigner | None:
    if config.callbacks is not None:
        return CallbackSigner(config.callbacks.secret.get_secret_value(),
                              config.callbacks.public_url, config.callbacks.path)
    return signer_from_env()


async def serve(config: routing.RoutingConfig, waitpoint: Waitpoint, host: str, port: int,
                stop: asyncio.Event, *, reuse_port: bool = False,
                record_dir: Path | None = None,
                limits: ReceiverLimits | None = None) -> None:
    """Serve until `stop` is set, then finish in-flight requests and close."""
    limits = limits or ReceiverLimits()
    signer = callback_signer(config)
    configure_callbacks(signer)  # jobs of this process mint URLs for this receiver
    app = create_app(config, waitpoint, body_limit=config.body_limit, callbacks=signer,
                     record_dir=record_dir, limits=limits)
    # keepalive_timeout also bounds how long a new connection may take to send its first
    # request's headers: aiohttp closes a connection still waiting for one.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10,
                           keepalive_timeout=limits.keepalive_timeout)
    await runner.setup()
    assert runner.server is not None
    cap_connections(runner.server, connection_cap(limits.max_connections),
                    limits.max_connections_per_client)
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    log.info("serve.listening", url=f"http://{host}:{port}", pid=os.getpid(),
             sources={s.name: s.path for s in config.sources.values()})
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def connection_cap(wanted: int) -> int:
    """`wanted`, kept below the process's file descriptor limit (with room for the pool,
    the logs and /readyz's own socket)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, max(16, soft - 64))


def cap_connections(server: web.Server, limit: int, per_client: int) -> None:
    """Close a connection as it is accepted when `limit` are open already (past the file
    descriptor limit nothing, /readyz included, could be accepted at all), or when its
    address has `per_client` open already (one client renewing idle connections would
    otherwise hold every slot)."""
    accept, lose = server.connection_made, server.connection_lost
    by_client: Counter[str] = Counter()
    client_of: dict[Any, str] = {}

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        accept(handler, transport)
        peer = transport.get_extra_info("peername")
        client = client_of[handler] = str(peer[0]) if peer else "?"
        by_client[client] += 1
        if len(server.connections) > limit or by_client[client] > per_client:
            log.warning("serve.connection_refused", open=len(server.connections), limit=limit,
                        client=client, client_open=by_client[client],
                        per_client=per_client)
            # Closed once the handler has started (it is created right after this call),
            # so it sees an ordinary lost connection.
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, transport.abort)

    def connection_lost(handler: Any, exc: BaseException | None) -> None:
        client = client_of.pop(handler, None)
        if client is not None:
            by_client[client] -= 1
            if by_client[client] <= 0:
                del by_client[client]
        lose(handler, exc)

    server.connection_made = connection_made  # type: ignore[method-assign]
    server.connection_lost = connection_lost  # type: ignore[method-assign,assignment]


RESTART_DELAY = (0.5, 30.0)
"""How soon a receiver process that died is started again: 0.5 s, doubling up to 30 s
while it keeps dying."""
HEALTHY_AFTER = 10.0
"""A process that ran this long before dying was healthy: its restart waits the least."""


def run_processes(command: Sequence[str], count: int) -> int:
    """Run `count` copies of `command` and keep them running: a copy that dies (a crash,
    an OOM kill) is started again. SIGINT/SIGTERM are forwarded and end it all; the exit
    code is the worst of the copies' last ones."""
    stopping = False
    children = [_Child(command) for _ in range(count)]

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            child.signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    while not stopping:
        for child in children:
            child.supervise()
        time.sleep(0.1)
    return max((child.wait() for child in children), default=0)


class _Child:
    """One copy of the command, started again after it dies (with a growing delay)."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self.backoff = Backoff(*RESTART_DELAY)
        self.process = subprocess.Popen(self.command)
        self.started = time.monotonic()
        self.restart_at: float | None = None

    def supervise(self) -> None:
        code = self.process.poll()
        if code is None:
            return
        now = time.monotonic()
        if self.restart_at is None:
            if now - self.started > HEALTHY_AFTER:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self.restart_at = now + delay
            log.warning("serve.process_died", pid=self.process.pid, exit_code=code,
                        restart_in=delay)
        elif now >= self.restart_at:
            self.process = subprocess.Popen(self.command)
            self.started, self.restart_at = now, None
            log.info("serve.process_restarted", pid=self.process.pid)

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self) -> int:
        return self.process.wait()


def self_command() -> list[str]:
    return [sys.executable, "-m", "waitpoint"]
