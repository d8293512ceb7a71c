"""asyncio helpers."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for `event` up to `timeout` seconds; True if it was set.

    Built on asyncio.timeout() rather than wait_for(): on Python 3.11, wait_for() can
    swallow a cancellation that arrives as the event is set, leaving a task that was
    told to stop running forever.
    """
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True

