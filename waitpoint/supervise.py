"""Background loops that cannot end unnoticed: the engine's producers and the receiver's
inbox run under `supervised()`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("waitpoint")


async def supervised(name: str, run: Callable[[], Awaitable[None]], *,
                     initial: float = 0.1, maximum: float = 5.0) -> None:
    """Run the background loop `run()` for ever: when it raises, log one error line and
    start it again after a growing pause (reset once it has run a minute). A loop of the
    engine or the receiver must never end unnoticed while the process goes on (a producer
    that died left its queue unserved while the heartbeat said the node was fine).
    Cancelling this task stops it."""
    delay = initial
    while True:
        started = time.monotonic()
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if time.monotonic() - started > 60:
                delay = initial
            log.error("task.restarted", task=name, error=f"{type(error).__name__}: {error}",
                      restart_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, maximum)
