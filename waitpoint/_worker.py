"""The @worker decorator and the lookup from a job's worker name to its class."""

from __future__ import annotations

import importlib
import random
import sys
from collections.abc import Iterable
from typing import Any

from ._current import current_instance
from ._job import Job

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
) -> Any:
    """Make a class with `async def process(self, job)` a waitpoint worker.

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
            return await current_instance("enqueue a job").enqueue(new(klass, args, **overrides))

        # The class gains its methods at run time; setattr says so to the type checker too.
        setattr(target, "new", classmethod(new))  # noqa: B010
        setattr(target, "enqueue", classmethod(enqueue))  # noqa: B010
        setattr(target, "__waitpoint_worker__", name)  # noqa: B010
        _registry[name] = target
        return target

    return decorate(cls) if cls is not None else decorate


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
