"""Exceptions a waitpoint user can meet, each with a message that says what to do."""


class WaitpointError(Exception):
    """Base class of waitpoint's own errors."""


class NoInstanceError(WaitpointError, RuntimeError):
    """Raised by module-level helpers when this process has no running instance."""

    def __init__(self, action: str) -> None:
        super().__init__(
            f"cannot {action}: no Waitpoint instance is running in this process. "
            "Start one first, e.g. `async with Waitpoint(queues={}) as wp: ...` "
            "(queues={} inserts and signals without running workers)."
        )


class SignalTimeout(WaitpointError):
    """Raised inside process() when await_signal's wait_for deadline passes unsignalled."""


class MigrationError(WaitpointError):
    """The database schema is missing or older than this version of waitpoint needs."""
