"""The test mode switch (waitpoint.testing.mode): a hook that lower layers can call
without importing the testing module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

inline_runner: ContextVar[Callable[[Any], Awaitable[Any]] | None] = ContextVar(
    "waitpoint_inline_runner", default=None)
"""Set inside `with waitpoint.testing.mode("inline")`: Worker.enqueue() runs the job with
this instead of inserting it."""
