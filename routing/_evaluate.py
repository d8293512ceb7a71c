"""Evaluate one verified callback against its source's routes: pure, no IO."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from ._config import WHOLE_BODY, CompiledRoute, CompiledSource
from ._errors import BodyError, RouteError
from ._expressions import Expression, ExpressionError, Scope
from .presets import DEFAULT_DELIVERY_ID


@dataclass(frozen=True)
class Callback:
    """What the receiver hands to routing: the raw request, already verified."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobTarget:
    job_ids: tuple[int, ...]
    name: str | None = None


@dataclass(frozen=True)
class WorkflowTarget:
    """Steps' jobs by step name, or, with no steps, the workflow's named signal itself (a
    broadcast, to sub-workflows and parents too with `propagate`)."""

    workflow_id: int | str
    steps: tuple[str, ...]
    name: str | None = None
    propagate: bool = True


@dataclass(frozen=True)
class KeyTarget:
    key: str
    keep_for: float | None = None


Target = JobTarget | WorkflowTarget | KeyTarget


@dataclass(frozen=True)
class Delivery:
    route: str
    target: Target
    payload: Any


@dataclass(frozen=True)
class Evaluation:
    delivery_id: str
    deliveries: tuple[Delivery, ...]
    matched: tuple[str, ...]
    errors: tuple[RouteError, ...]

    @property
    def outcome(self) -> Literal["routed", "unrouted", "no_target"]:
        """routed: deliveries to make; unrouted: no route matched; no_target: routes
        matched but none produced a usable target (missing id, evaluation error)."""
        if self.deliveries:
            return "routed"
        if self.matched or any(e.field != "delivery_id" for e in self.errors):
            return "no_target"
        return "unrouted"


MAX_NESTING = 64
"""Deepest JSON a body may be (objects and arrays): providers send a dozen levels at most;
deeper bodies are refused with 400 before anything evaluates or encodes them."""


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply lists and dicts nest in `value`, counted up to `limit + 1` (without
    recursion, so no depth can exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_body(body: bytes, content_type: str | None, mode: str = "auto") -> Any:
    """The body as routes see it: JSON, form fields, or text. Raises BodyError."""
    if not body:
        return None
    media = (content_type or "").split(";")[0].strip().lower()
    if mode == "auto":
        if media == "application/json" or media.endswith("+json"):
            mode = "json"
        elif media == "application/x-www-form-urlencoded":
            mode = "form"
        elif not media and body.lstrip()[:1] in (b"{", b"["):
            mode = "json"
        else:
            mode = "text"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        if mode == "text":
            return body.decode("utf-8", errors="replace")
        raise BodyError(f"body is not UTF-8 ({mode} expected)") from None
    if mode == "json":
        try:
            value = json.loads(text)
        except RecursionError:
            raise BodyError(f"body is nested deeper than {MAX_NESTING} levels") from None
        except ValueError as error:
            raise BodyError(f"body is not valid JSON: {error}") from None
        # A body with fewer brackets than the limit cannot nest deeper: most skip the walk.
        if text.count("[") + text.count("{") > MAX_NESTING and \
                nesting_depth(value) > MAX_NESTING:
            raise BodyError(f"body is nested deeper than {MAX_NESTING} levels")
        return value
    if mode == "form":
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except ValueError as error:
            raise BodyError(f"body is not a valid form: {error}") from None
        fields: dict[str, Any] = {}
        for key, value in pairs:
            if key in fields:
                existing = fields[key]
                earlier = existing if isinstance(existing, list) else [existing]
                fields[key] = [*earlier, value]
            else:
                fields[key] = value
        return fields
    return text


def build_context(source: CompiledSource, callback: Callback) -> dict[str, Any]:
    headers = {key.lower(): value for key, value in callback.headers.items()}
    return {
        "body": parse_body(callback.body, headers.get("content-type"), source.body),
        "headers": headers,
        "query": dict(callback.query),
        "params": dict(callback.params),
        "source": source.name,
    }


def evaluate(source: CompiledSource, callback: Callback) -> Evaluation:
    """Every matching route's deliveries, in order (a matching `final` route stops there).

    Raises BodyError for a body that does not parse; every other problem becomes a
    RouteError on the evaluation, so one bad route never hides the others.
    """
    variables = build_context(source, callback)
    context = Scope(variables, source.variables)
    errors: list[RouteError] = []
    delivery_id = _delivery_id(source, callback, context, errors)
    deliveries: list[Delivery] = []
    matched: list[str] = []
    for route in source.routes:
        try:
            if route.when is not None and not _truthy(route.when.evaluate(context)):
                continue
        except ExpressionError as error:
            errors.append(RouteError(route.name, "when", str(error)))
            continue
        matched.append(route.name)
        try:
            delivery = _delivery(route, context, variables)
        except _FieldError as error:
            errors.append(RouteError(route.name, error.field, error.message))
        else:
            if delivery is not None:
                deliveries.append(delivery)
        if route.final:
            break
    return Evaluation(delivery_id=delivery_id, deliveries=tuple(deliveries),
                      matched=tuple(matched), errors=tuple(errors))


def _truthy(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"`when` must be true or false, got {type(value).__name__}")
    return value


def _delivery_id(source: CompiledSource, callback: Callback, context: Scope,
                 errors: list[RouteError]) -> str:
    if source.delivery_id is not None:
        try:
            value = source.delivery_id.evaluate(context)
        except ExpressionError as error:
            if source.delivery_id.source not in _SCHEME_DEFAULTS:
                errors.append(RouteError("", "delivery_id", f"{error}; using a body hash"))
            value = None
        if value is not None and value != "":
            return str(value)
    return body_hash_delivery_id(callback)


def body_hash_delivery_id(callback: Callback) -> str:
    """The dedupe key of a callback without a provider delivery id: the same body sent to
    another path (/approvals/1 vs /approvals/2) or query is another callback."""
    digest = hashlib.sha256()
    if callback.params or callback.query:
        where = json.dumps([sorted(callback.params.items()), sorted(callback.query.items())])
        digest.update(where.encode() + b"\n")
    digest.update(callback.body)
    return "sha256:" + digest.hexdigest()


_SCHEME_DEFAULTS = frozenset(DEFAULT_DELIVERY_ID.values())


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _evaluate_field(expression: Expression, context: Scope, name: str) -> Any:
    try:
        return expression.evaluate(context)
    except ExpressionError as error:
        raise _FieldError(name, str(error)) from None


def _delivery(route: CompiledRoute, context: Scope,
              variables: dict[str, Any]) -> Delivery | None:
    value = _evaluate_field(route.target, context, f"signal.{route.kind}")
    name = (None if route.signal_name is None
            else _signal_name(_evaluate_field(route.signal_name, context, "signal.name")))
    target: Target | None
    if route.kind == "job":
        target = _job_target(value)
        if target is not None and name is not None:
            target = JobTarget(target.job_ids, name)
    elif route.kind == "workflow":
        steps = (None if route.step is None
                 else _evaluate_field(route.step, context, "signal.step"))
        target = _workflow_target(value, steps, name, route.propagate)
    else:
        target = _key_target(value, route.keep_for)
    if target is None:
        return None
    payload = (variables["body"] if route.payload is WHOLE_BODY
               else _render(route.payload, context, "signal.payload"))
    return Delivery(route=route.name, target=target, payload=payload)


_JOB_ID = re.compile(r"[0-9]+")
"""ASCII digits only: str.isdigit() also accepts '²', which int() refuses."""


def _job_target(value: Any) -> JobTarget | None:
    values = value if isinstance(value, list) else [value]
    ids = []
    for item in values:
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise _FieldError("signal.job", f"expected a job id or a list of ids, got {item!r}")
        if isinstance(item, str):
            digits = item.strip()
            # A bigint has at most 19 digits; a longer string is out of range, and int()
            # would refuse one over 4,300 digits with an error of its own.
            if not _JOB_ID.fullmatch(digits):
                raise _FieldError("signal.job", f"expected a job id, got {item[:40]!r}")
            if len(digits.lstrip("0")) > 19:
                raise _FieldError("signal.job", f"job id {digits[:40]}... is out of range")
            item = int(digits)
        if not 0 < item < 2**63:
            raise _FieldError("signal.job", f"job id {item} is out of range")
        ids.append(item)
    return JobTarget(tuple(dict.fromkeys(ids))) if ids else None


def _signal_name(value: Any) -> str:
    if not isinstance(value, str) or not value or not value.isprintable() or len(value) > 200:
        raise _FieldError("signal.name", "expected a signal name (a printable string of at "
                                         f"most 200 characters), got {str(value)[:40]!r}")
    return value


def _workflow_target(workflow: Any, steps: Any, name: str | None,
                     propagate: bool) -> WorkflowTarget | None:
    if workflow is None or workflow == "":
        return None
    if isinstance(workflow, bool) or not isinstance(workflow, int | str):
        raise _FieldError("signal.workflow", f"expected a workflow id, got {workflow!r}")
    if steps is None:  # a broadcast of the workflow's named signal
        return WorkflowTarget(workflow, (), name, propagate)
    names = steps if isinstance(steps, list) else [steps]
    if not names or not all(isinstance(step, str) and step for step in names):
        raise _FieldError("signal.step", f"expected a step name or a list of names, got {steps!r}")
    return WorkflowTarget(workflow, tuple(names), name)


def _key_target(value: Any, keep_for: float | None) -> KeyTarget | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _FieldError("signal.key", f"expected a key (string), got {value!r}")
    key = str(value)
    if not key.isprintable() or len(key) > 1000:
        raise _FieldError("signal.key", f"a key is at most 1000 printable characters, got "
                          f"{key[:40]!r}")
    return KeyTarget(key, keep_for)


def _render(template: Any, context: Scope, path: str) -> Any:
    if isinstance(template, Expression):
        return _evaluate_field(template, context, path)
    if isinstance(template, dict):
        return {key: _render(item, context, f"{path}.{key}") for key, item in template.items()}
    return [_render(item, context, f"{path}[{index}]") for index, item in enumerate(template)]
