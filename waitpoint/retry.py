"""One way to wait between attempts: exponential backoff, and a retry loop built on it.

Used by the producers (fetch and final acks), the LISTEN connection and the receiver's
inbox, so each decides only what is worth retrying and for how long.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Backoff:
    """Delays that start at `initial` and grow by `factor` up to `maximum`; `reset()`
    after a success.

    >>> backoff = Backoff(initial=0.1, maximum=5.0)
    >>> await backoff.wait()    # 0.1 s, then 0.2, 0.4, ... 5.0
    """

    def __init__(self, initial: float = 0.05, maximum: float = 5.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.delay = initial

    def reset(self) -> None:
        self.delay = self.initial

    def next_delay(self) -> float:
        """The delay to wait now; the one after it is longer."""
        delay = self.delay
        self.delay = min(max(delay, self.initial) * self.factor, self.maximum)
        return delay

    async def wait(self) -> float:
        """Sleep the current delay, then lengthen it; returns the delay slept."""
        delay = self.next_delay()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay


async def retry(operation: Callable[[], Awaitable[T]], *,
                retry_on: tuple[type[BaseException], ...], attempts: int | None = None,
                within: float | None = None, backoff: Backoff | None = None,
                on_retry: Callable[[BaseException, float], None] | None = None) -> T:
    """Run `operation` until it succeeds; errors of `retry_on` are retried up to `attempts`
    times in all and/or for `within` seconds, then the last one is raised.

    >>> rows = await retry(lambda: pool.fetch(sql), retry_on=(DeadlockDetectedError,),
    ...                    attempts=3, backoff=Backoff(initial=0))
    """
    if attempts is None and within is None:
        raise ValueError("retry: give attempts= or within=, or both")
    backoff = backoff or Backoff()
    deadline = None if within is None else time.monotonic() + within
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except retry_on as error:
            out_of_attempts = attempts is not None and attempt >= attempts
            out_of_time = deadline is not None and time.monotonic() >= deadline
            if out_of_attempts or out_of_time:
                raise
            if on_retry is not None:
                on_retry(error, backoff.delay)
            await backoff.wait()
