"""What the inbox stores: an accepted callback (EventRecord), the signals it delivers
(Delivery, payloads already encoded), and what each delivery reached (Signalled).

These are the one place where a batch becomes the typed arrays ingest_batch() reads (and a
delivery the JSON replay_event() reads), and where the database's answer becomes Python
again.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import routing

Outcome = Literal["routed", "unrouted", "no_target", "payload_error"]
"""What an event is stored as; a later copy of it answers `duplicate`."""


_UNSTORABLE_ESCAPE = re.compile(
    r"(?<!\\)((?:\\\\)*)"                                         # not itself escaped
    r"(?:\\u0000"                                                 # NUL
    r"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"   # lone high
    r"|(?<![uU][dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")  # lone low


def storable_json(text: str) -> str:
    """JSON text (as json.dumps writes it, ASCII) with what PostgreSQL cannot hold in text
    or jsonb replaced by U+FFFD: NUL and lone surrogates ("\\ud800" is valid JSON, a
    pair is not lone). The raw body and the payloads travel as bytea and are stored
    intact; this touches the searchable copies (query, headers, errors, targets).
    One pass over the batch, only when an escape is there at all."""
    if "\\u0000" not in text and "\\ud" not in text and "\\uD" not in text:
        return text
    return _UNSTORABLE_ESCAPE.sub(lambda match: match[1] + "\\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """A Python string PostgreSQL can hold in a text column: NUL and surrogates (in a str
    they are always lone: a decoded pair is one code point) become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _storable_dumps(value: Any) -> str:
    return storable_json(json.dumps(value))


def target_json(target: routing.JobTarget | routing.WorkflowTarget | routing.KeyTarget
                ) -> dict[str, Any]:
    """A target as the database (and `waitpoint route`) spell it."""
    if isinstance(target, routing.JobTarget):
        named = {"name": target.name} if target.name is not None else {}
        return {"jobs": list(target.job_ids), **named}
    if isinstance(target, routing.WorkflowTarget):
        if not target.steps:  # a broadcast of the workflow's named signal
            return {"workflow": str(target.workflow_id), "name": target.name,
                    "propagate": target.propagate}
        named = {"name": target.name} if target.name is not None else {}
        return {"workflow": str(target.workflow_id), "steps": list(target.steps), **named}
    return {"key": target.key, "keep_for": target.keep_for}


def describe_target(target: routing.JobTarget | routing.WorkflowTarget | routing.KeyTarget
                    ) -> str:
    """A target in one short string, for the log line."""
    if isinstance(target, routing.KeyTarget):
        return f"key:{target.key}"
    if isinstance(target, routing.WorkflowTarget):
        if not target.steps:
            return f"workflow:{target.workflow_id}!{target.name}"
        return f"workflow:{target.workflow_id}/" + ",".join(target.steps)
    named = f"!{target.name}" if target.name is not None else ""
    return "jobs:" + ",".join(map(str, target.job_ids)) + named


@dataclass(frozen=True, slots=True)
class Delivery:
    """One signal an event delivers: its route, its target and the encoded payload."""

    route: str
    target: routing.JobTarget | routing.WorkflowTarget | routing.KeyTarget
    payload: bytes  # erlpack

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, **target_json(self.target),
                "payload": base64.b64encode(self.payload).decode("ascii")}


@dataclass(frozen=True, slots=True)
class Signalled:
    """What one delivery reached, as the database recorded it on the event."""

    route: str
    target: dict[str, Any]
    reached: tuple[int, ...]

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Signalled:
        target = {k: v for k, v in entry.items() if k not in ("route", "reached")}
        return cls(str(entry.get("route", "")), target, tuple(entry.get("reached") or ()))


def signals_reached(signalled: Iterable[Signalled]) -> int:
    return sum(len(entry.reached) for entry in signalled)


@dataclass
class EventRecord:
    """An accepted callback, as ingest_batch() stores it."""

    source: str
    delivery_id: str
    body: bytes
    outcome: Outcome
    method: str = "POST"
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    deliveries: Sequence[Delivery] = ()
    replay_key: bytes | None = None
    """What a replay of this request would repeat (SHA-256); None: no replay guard."""
    replay_seconds: float | None = None
    """How long a replay of it is refused."""


@dataclass(frozen=True)
class Stored:
    """The inbox's answer for one event: its id, whether an earlier copy was there, and
    what its deliveries reached (nothing for a duplicate: the first copy delivered)."""

    event_id: int | None
    """None: a replay of a request already received, under a new delivery id (the replay
    guard): nothing was stored."""
    duplicate: bool
    signalled: tuple[Signalled, ...]

    @property
    def reached(self) -> int:
        return 0 if self.duplicate else signals_reached(self.signalled)


def batch_columns(events: Sequence[EventRecord]) -> tuple[list[Any] | None, ...]:
    """The arguments of ingest_batch(): one array per event column, then one per delivery
    column, then the (delivery, job) pairs of job deliveries, then the replay keys (one
    NULL when no event has one). Text is made storable here
    (the raw body and the payloads are bytes and stay intact)."""
    sources, delivery_ids, methods, paths = [], [], [], []
    queries, headers, bodies, outcomes, errors = [], [], [], [], []
    delivery_items: list[int] = []
    routes: list[str] = []
    targets: list[str] = []
    payloads: list[bytes] = []
    names: list[str | None] = []
    target_deliveries: list[int] = []
    target_jobs: list[int] = []
    replay_keys: list[bytes | None] = []
    replay_seconds: list[float | None] = []
    for item, event in enumerate(events, start=1):
        replay_keys.append(event.replay_key)
        replay_seconds.append(event.replay_seconds)
        sources.append(storable_text(event.source))
        delivery_ids.append(storable_text(event.delivery_id))
        methods.append(storable_text(event.method))
        paths.append(storable_text(event.path))
        queries.append(_storable_dumps(event.query))
        headers.append(_storable_dumps(event.headers))
        bodies.append(event.body)
        outcomes.append(event.outcome)
        errors.append(_storable_dumps(event.errors))
        for delivery in event.deliveries:
            delivery_items.append(item)
            routes.append(storable_text(delivery.route))
            targets.append(_storable_dumps(target_json(delivery.target)))
            payloads.append(delivery.payload)
            name = getattr(delivery.target, "name", None)
            names.append(None if name is None else storable_text(name))
            if isinstance(delivery.target, routing.JobTarget):
                number = len(delivery_items)
                for job_id in delivery.target.job_ids:
                    target_deliveries.append(number)
                    target_jobs.append(job_id)
    guarded = any(key is not None for key in replay_keys)
    return (sources, delivery_ids, methods, paths, queries, headers, bodies, outcomes, errors,
            delivery_items, routes, targets, payloads, names, target_deliveries, target_jobs,
            replay_keys if guarded else None, replay_seconds if guarded else None)
