"""The @worker decorator and the lookup from a job's worker name to its class."""

from __future__ import annotations

import functools
import importlib
import inspect
import random
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ._cron import register_cron
from ._current import current_instance
from ._job import Job
from ._mode import inline_runner

_registry: dict[str, type] = {}


def worker_name(cls: type) -> str:
    """The importable name of a worker class, stored on its jobs.

    A module run as `python -m pkg.mod` is `__main__` to itself but `pkg.mod` to the worker
    process that imports it, so its import name (from __spec__) is used.
    """
    module = cls.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        if spec is not None and spec.name:
            module = spec.name
    return f"{module}.{cls.__qualname__}"


def worker(
    cls: type | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    max_attempts: int = 20,
    tags: Iterable[str] = (),
    cron: str | None = None,
    timezone: str = "UTC",
    cron_args: dict[str, Any] | None = None,
    backfill: bool = False,
) -> Any:
    """Make a class with `async def process(self, job)` a waitpoint worker.

    With `cron` ("*/5 * * * *", "@hourly", "@daily", "@reboot", ...; a sixth field is
    seconds), the leader inserts one job per due slot, in `timezone`, with `cron_args`;
    a slot missed while no node ran is skipped unless `backfill`. An invalid expression
    or time zone raises ValueError here, naming the worker.

    >>> @worker(queue="mail", max_attempts=5)
    ... class Mailer:
    ...     async def process(self, job):
    ...         await send(job.args["to"])
    >>> job = Mailer.new({"to": "a@example.com"}, priority=1)
    >>> job = await Mailer.enqueue({"to": "a@example.com"})
    """

    defaults: dict[str, Any] = {"queue": queue, "priority": priority,
                                "max_attempts": max_attempts, "tags": list(tags)}
    # Validate the options once, at decoration time, rather than at each enqueue.
    Job(worker="validation", **defaults)

    def decorate(target: type) -> type:
        if not callable(getattr(target, "process", None)):
            raise TypeError(f"{target.__qualname__} needs an `async def process(self, job)`")
        name = worker_name(target)

        def new(klass: type, /, args: dict[str, Any] | None = None, **overrides: Any) -> Job:
            return Job(worker=name, args=dict(args or {}), **{**defaults, **overrides})

        async def enqueue(klass: type, /, args: dict[str, Any] | None = None,
                          **overrides: Any) -> Job:
            created = new(klass, args, **overrides)
            run_inline = inline_runner.get()
            if run_inline is not None:  # waitpoint.testing.mode("inline")
                ran: Job = await run_inline(created)
                return ran
            return await current_instance("enqueue a job").enqueue(created)

        # The class gains its methods at run time; setattr says so to the type checker too.
        setattr(target, "new", classmethod(new))  # noqa: B010
        setattr(target, "enqueue", classmethod(enqueue))  # noqa: B010
        setattr(target, "__waitpoint_worker__", name)  # noqa: B010
        _registry[name] = target
        if cron is not None:
            register_cron(name, cron, timezone=timezone, args=cron_args or {},
                          backfill=backfill, options=defaults)
        return target

    return decorate(cls) if cls is not None else decorate


def job(
    func: Callable[..., Any] | None = None,
    *,
    queue: str = "default",
    priority: int = 0,
    max_attempts: int = 20,
    tags: Iterable[str] = (),
    cron: str | None = None,
    timezone: str = "UTC",
    backfill: bool = False,
) -> Any:
    """Make a function a worker: its arguments are the job's args, by parameter name (as
    oban-py stores them), so they must be JSON values.

    >>> @job(queue="mail")
    ... async def send_email(to: str, subject: str) -> None: ...
    >>> await send_email.enqueue("a@example.com", "hi")   # args {"to": ..., "subject": ...}
    >>> job = send_email.new("a@example.com", subject="hi", priority=2)  # options by name

    The function may `await await_signal(...)` like a class worker's process(). A sync
    function runs in the event loop: keep it short, or make it async.
    """

    def decorate(target: Callable[..., Any]) -> type:
        signature = inspect.signature(target)
        option_names = {"queue", "priority", "max_attempts", "tags", "meta", "schedule_in",
                        "scheduled_at"}
        clashes = option_names & set(signature.parameters)
        if clashes:
            raise TypeError(f"{target.__qualname__}: parameter(s) {sorted(clashes)} would "
                            "clash with job options; rename them")

        async def process(self: Any, job: Job) -> Any:
            result = target(**job.args)
            return await result if inspect.isawaitable(result) else result

        worker_class = type(target.__name__, (), {
            "process": process, "__module__": target.__module__,
            "__qualname__": target.__qualname__, "__doc__": target.__doc__})
        decorated: Any = worker(queue=queue, priority=priority, max_attempts=max_attempts,
                                tags=tags, cron=cron, timezone=timezone,
                                backfill=backfill)(worker_class)
        new_job, enqueue_job = decorated.new, decorated.enqueue

        def split(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[dict[str, Any],
                                                                           dict[str, Any]]:
            options = {key: kwargs.pop(key) for key in list(kwargs) if key in option_names}
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return dict(bound.arguments), options

        @functools.wraps(target)
        def new(*args: Any, **kwargs: Any) -> Job:
            arguments, options = split(args, kwargs)
            return new_job(arguments, **options)  # type: ignore[no-any-return]

        @functools.wraps(target)
        async def enqueue(*args: Any, **kwargs: Any) -> Job:
            arguments, options = split(args, kwargs)
            return await enqueue_job(arguments, **options)  # type: ignore[no-any-return]

        decorated.new = staticmethod(new)
        decorated.enqueue = staticmethod(enqueue)
        return decorated  # type: ignore[no-any-return]

    return decorate(func) if func is not None else decorate


def resolve_worker(name: str) -> type:
    """Find a worker class by its name, importing its module when needed."""
    if name in _registry:
        return _registry[name]
    module_name, _, qualname = name.rpartition(".")
    if not module_name:
        raise LookupError(f"worker {name!r} is not a dotted module path")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        # The worker may be a nested class: module.Outer.Inner.
        parent, _, outer = module_name.rpartition(".")
        if not parent:
            raise LookupError(f"worker {name!r}: cannot import {module_name!r} ({error})") from None
        target = _resolve_attribute(resolve_worker(f"{parent}.{outer}"), qualname, name)
    else:
        for part in qualname.split("."):
            target = _resolve_attribute(target, part, name)
    if not isinstance(target, type):
        raise LookupError(f"worker {name!r} is not a class")
    _registry[name] = target
    return target


def _resolve_attribute(owner: Any, attribute: str, name: str) -> Any:
    try:
        return getattr(owner, attribute)
    except AttributeError:
        raise LookupError(f"worker {name!r}: {attribute!r} not found") from None


def default_backoff(attempt: int) -> float:
    """Oban's default: 15 s plus 2^attempt, capped at a day, with 10% jitter."""
    base: int = min(15 + 2 ** min(attempt, 20), 86_400)
    return base * random.uniform(0.9, 1.1)
