"""Run the receiver: one process, or N processes sharing a port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog
from aiohttp import web

import routing
from waitpoint import Waitpoint

from .app import create_app
from .callbacks import CallbackSigner, configure_callbacks, signer_from_env

log = structlog.get_logger("ingest.server")


def callback_signer(config: routing.RoutingConfig) -> CallbackSigner | None:
    if config.callbacks is not None:
        return CallbackSigner(config.callbacks.secret.get_secret_value(),
                              config.callbacks.public_url, config.callbacks.path)
    return signer_from_env()


async def serve(config: routing.RoutingConfig, waitpoint: Waitpoint, host: str, port: int,
                stop: asyncio.Event, *, reuse_port: bool = False,
                record_dir: Path | None = None) -> None:
    """Serve until `stop` is set, then finish in-flight requests and close."""
    signer = callback_signer(config)
    configure_callbacks(signer)  # jobs of this process mint URLs for this receiver
    app = create_app(config, waitpoint, body_limit=config.body_limit, callbacks=signer,
                     record_dir=record_dir)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    log.info("serve.listening", url=f"http://{host}:{port}", pid=os.getpid(),
             sources={s.name: s.path for s in config.sources.values()})
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def run_processes(command: Sequence[str], count: int) -> int:
    """Run `count` copies of `command`; forward SIGINT/SIGTERM; exit when they have."""
    children = [subprocess.Popen(list(command)) for _ in range(count)]

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [child.wait() for child in children]
    return max(codes, default=0)


def self_command() -> list[str]:
    return [sys.executable, "-m", "ingest.cli"]
