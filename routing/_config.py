"""Load, validate and compile a routing config into what evaluation needs."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import pydantic

from ._env import MissingVariable, interpolate
from ._errors import ConfigError, ConfigIssue, Path
from ._expressions import Expression, ExpressionError, compile_expression, expression_problems
from ._schema import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_EVENTS_RETENTION,
    PARAM,
    SOURCE_NAME,
    ConfigSpec,
    RouteSpec,
    SourceSpec,
    path_problem,
)
from ._yaml import LocatedData, load_yaml
from .presets import (
    DEFAULT_DELIVERY_ID,
    PRESETS,
    SCHEMES,
    ReplayGuard,
    replay_guard,
    verifier_options,
)

WHOLE_BODY = object()
"""Payload of a route without `payload`: the parsed body."""


@dataclass(frozen=True)
class CompiledRoute:
    name: str
    when: Expression | None
    final: bool
    kind: str  # "job" | "workflow" | "key"
    target: Expression
    step: Expression | None
    payload: Any  # WHOLE_BODY, or a template of Expressions / constants
    keep_for: float | None
    signal_name: Expression | None = None
    propagate: bool = True


@dataclass(frozen=True)
class CompiledSource:
    name: str
    path: str
    pattern: re.Pattern[str]
    verify: Any  # one of routing.schemes' models, as written in the config
    verifier: Any  # what the verifier runs with: a preset expanded (routing.presets)
    delivery_id: Expression | None
    body: str
    routes: tuple[CompiledRoute, ...]
    variables: frozenset[str]
    redact_body_fields: frozenset[str] = frozenset()
    """Body fields (by name, at any depth) replaced by "[redacted]" in stored events and
    recordings: the source's `redact_body_fields` and its preset's secret fields."""
    retention: float | None = None
    """Seconds its events are kept; None: the config's events_retention."""
    replay_guard: ReplayGuard | None = None
    """What is remembered of a verified request so that sending it again is a duplicate
    (routing.presets.replay_guard)."""

    @property
    def scheme(self) -> str:
        scheme: str = self.verify.scheme
        return scheme

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class RoutingConfig:
    file: str
    sources: dict[str, CompiledSource] = field(default_factory=dict)
    body_limit: int = DEFAULT_BODY_LIMIT
    callbacks: Any = None  # routing._schema.CallbacksSpec, or None
    events_retention: float = DEFAULT_EVENTS_RETENTION
    """Seconds a stored event is kept (a source's `retention` overrides it): a delivery id
    is recognised as a duplicate for as long as its event is kept."""

    def retentions(self) -> dict[str, float]:
        """Each source's retention, in seconds."""
        return {name: source.retention or self.events_retention
                for name, source in self.sources.items()}

    def match(self, path: str) -> tuple[CompiledSource, dict[str, str]] | None:
        """The source serving a request path, with its path parameters."""
        for source in self.sources.values():
            params = source.match(path)
            if params is not None:
                return source, params
        return None


def load_config(path: str | os.PathLike[str],
                env: Mapping[str, str] | None = None) -> RoutingConfig:
    """Read and compile a routing config file; raises ConfigError listing every problem."""
    file = FilePath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        issue = ConfigIssue(str(file), 1, (), f"cannot read: {error.strerror}")
        raise ConfigError([issue]) from None
    return parse_config(text, str(file), os.environ if env is None else env)


def parse_config(text: str, filename: str = "<config>",
                 env: Mapping[str, str] | None = None) -> RoutingConfig:
    located, issues = load_yaml(text, filename)
    data = located.data
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(filename, 1, (), "expected a mapping with version and "
                                                        "sources")])
    data, env_issues = _interpolate_secrets(data, env or {}, located, filename)
    issues += env_issues
    # Expressions and paths are checked on the raw data too, so that their errors are
    # reported together with shape errors rather than after the shape is fixed.
    issues += _raw_issues(data, located, filename)
    try:
        spec = ConfigSpec.model_validate(data)
    except pydantic.ValidationError as error:
        explained = [issue.path for issue in env_issues]
        issues += [issue for issue in _validation_issues(error, located, filename)
                   if not any(path[:len(issue.path)] == issue.path for path in explained)]
        raise ConfigError(_unique(issues)) from None
    compiled, compile_issues = _compile(spec, located, filename)
    issues += compile_issues
    if issues:
        raise ConfigError(_unique(issues))
    return compiled


def _unique(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return list(dict.fromkeys(issues))


def _raw_issues(data: dict[str, Any], located: LocatedData, filename: str) -> list[ConfigIssue]:
    """Expression and path problems, found without trusting the rest of the shape."""
    issues: list[ConfigIssue] = []

    params: frozenset[str] | None = None  # the current source's path parameters

    def check(value: Any, path: Path, condition: bool = False) -> None:
        if not isinstance(value, str | int | float | bool):
            return
        try:
            compiled = compile_expression(value)
        except ExpressionError as error:
            issues.append(ConfigIssue(filename, located.line(path), path, str(error)))
            return
        for problem in expression_problems(compiled, params=params, condition=condition):
            issues.append(ConfigIssue(filename, located.line(path), path, problem))

    def check_payload(value: Any, path: Path) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                check_payload(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                check_payload(item, (*path, index))
        elif value is not None:
            check(value, path)

    sources = data.get("sources")
    if not isinstance(sources, dict):
        return issues
    seen_paths: dict[str, str] = {}
    for name, source in sources.items():
        if not isinstance(source, dict):
            continue
        base: Path = ("sources", name)
        if not SOURCE_NAME.match(str(name)):
            issues.append(ConfigIssue(filename, located.line(base), base,
                                      "source names are lower-case letters, digits, - and _"))
        params = None
        if isinstance(source.get("path"), str):
            problem = path_problem(source["path"])
            if problem is not None:
                issues.append(ConfigIssue(filename, located.line((*base, "path")),
                                          (*base, "path"), problem))
            else:
                params = frozenset(PARAM.findall(source["path"]))
            shape = PARAM.sub("{}", source["path"])
            if shape in seen_paths:
                path = (*base, "path")
                issues.append(ConfigIssue(
                    filename, located.line(path), path,
                    f"path {source['path']!r} is already served by source {seen_paths[shape]!r}"))
            seen_paths.setdefault(shape, name)
        if "delivery_id" in source:
            check(source["delivery_id"], (*base, "delivery_id"))
        routes = source.get("routes")
        for index, route in enumerate(routes if isinstance(routes, list) else []):
            if not isinstance(route, dict):
                continue
            path = (*base, "routes", index)
            if "when" in route:
                check(route["when"], (*path, "when"), condition=True)
            signal = route.get("signal")
            if isinstance(signal, dict):
                for field_name in ("job", "workflow", "step", "key", "name"):
                    if field_name in signal:
                        check(signal[field_name], (*path, "signal", field_name))
                if "payload" in signal:
                    check_payload(signal["payload"], (*path, "signal", "payload"))
    return issues


def _interpolate_secrets(data: dict[str, Any], env: Mapping[str, str], located: LocatedData,
                         filename: str) -> tuple[dict[str, Any], list[ConfigIssue]]:
    missing: list[MissingVariable] = []
    if isinstance(data.get("callbacks"), dict):
        data["callbacks"] = interpolate(data["callbacks"], env, ("callbacks",), missing)
    sources = data.get("sources")
    if isinstance(sources, dict):
        for name, source in sources.items():
            if isinstance(source, dict) and "verify" in source:
                source["verify"] = interpolate(source["verify"], env,
                                               ("sources", name, "verify"), missing)
    issues = [ConfigIssue(filename, located.line(m.path), m.path,
                          f"environment variable {m.name} is not set (and has no default)")
              for m in missing]
    return data, issues


def _validation_issues(error: pydantic.ValidationError, located: LocatedData,
                       filename: str) -> list[ConfigIssue]:
    issues = []
    for problem in error.errors(include_input=False, include_url=False):
        path = _clean_location(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing" and "verify" in path:
            tag = next((part for part in problem["loc"] if part in SCHEMES), "this scheme")
            message = f"{tag} needs {path[-1]!r}"
        elif problem["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r}"
        elif problem["type"] == "union_tag_invalid":
            tag = str((problem.get("ctx") or {}).get("tag", ""))
            near = difflib.get_close_matches(tag, SCHEMES, n=1)
            message = (f"unknown scheme {tag!r}" + (f"; did you mean {near[0]!r}?" if near else "")
                       + f" Known schemes: {', '.join(SCHEMES)}")
        elif problem["type"] == "union_tag_not_found":
            message = f"missing scheme; known schemes: {', '.join(SCHEMES)}"
        issues.append(ConfigIssue(filename, located.line(path), path, message))
    return issues


def _clean_location(loc: tuple[Any, ...]) -> Path:
    """Drop the discriminator tag pydantic inserts after `verify` (verify.stripe.tolerance)."""
    parts = list(loc)
    for index, part in enumerate(parts[:-1]):
        if part == "verify" and parts[index + 1] in SCHEMES:
            del parts[index + 1]
            break
    return tuple(p for p in parts if isinstance(p, str | int))


def _compile(spec: ConfigSpec, located: LocatedData,
             filename: str) -> tuple[RoutingConfig, list[ConfigIssue]]:
    issues: list[ConfigIssue] = []

    def issue(path: Path, message: str) -> None:
        issues.append(ConfigIssue(filename, located.line(path), path, message))

    def expression(value: Any, path: Path) -> Expression | None:
        try:
            return compile_expression(value)
        except ExpressionError as error:
            issue(path, str(error))
            return None

    sources: dict[str, CompiledSource] = {}
    for name, source in spec.sources.items():
        base: Path = ("sources", name)
        delivery_text = source.delivery_id or DEFAULT_DELIVERY_ID.get(source.verify.scheme)
        delivery_id = (expression(delivery_text, (*base, "delivery_id"))
                       if delivery_text is not None else None)
        routes = [_compile_route(route, (*base, "routes", index), index, expression, issue)
                  for index, route in enumerate(source.routes)]
        seen_names: set[str] = set()
        for index, route in enumerate(routes):
            if route is not None and route.name in seen_names:
                issue((*base, "routes", index, "name"), f"two routes are named {route.name!r}")
            elif route is not None:
                seen_names.add(route.name)
        retention = source.retention or spec.events_retention
        tolerance = getattr(source.verify, "tolerance", None)
        if tolerance is not None and tolerance > retention:
            issue((*base, "verify", "tolerance"),
                  f"a tolerance of {tolerance:g} s is longer than the source's retention "
                  f"({retention:g} s): a request replayed inside the tolerance after its "
                  "event was deleted would be accepted again; shorten the tolerance or set "
                  "a longer `retention`")
        verifier = verifier_options(source.verify)
        sources[name] = CompiledSource(
            name=name, path=source.path, pattern=_path_pattern(source), verify=source.verify,
            verifier=verifier,
            delivery_id=delivery_id, body=source.body,
            routes=tuple(route for route in routes if route is not None),
            variables=_variables_read(delivery_id, routes),
            redact_body_fields=frozenset(source.redact_body_fields)
            | frozenset(PRESETS[source.verify.scheme].secret_body_fields),
            retention=source.retention,
            replay_guard=replay_guard(verifier, source.verify.scheme, retention),
        )
    return RoutingConfig(file=filename, sources=sources, body_limit=spec.body_limit,
                         callbacks=spec.callbacks,
                         events_retention=spec.events_retention), issues


def _variables_read(delivery_id: Expression | None,
                    routes: list[CompiledRoute | None]) -> frozenset[str]:
    expressions: list[Any] = [delivery_id]
    for route in routes:
        if route is not None:
            expressions += [route.when, route.target, route.step, route.signal_name, route.payload]
    found: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, Expression):
            found.update(value.variables)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for expression in expressions:
        collect(expression)
    return frozenset(found)


def _compile_route(route: RouteSpec, path: Path, index: int, expression: Any,
                   issue: Any) -> CompiledRoute | None:
    signal = route.signal
    when = expression(route.when, (*path, "when")) if route.when is not None else None
    kind = "job" if signal.job is not None else "workflow" if signal.workflow is not None else "key"
    target = expression(getattr(signal, kind), (*path, "signal", kind))
    step = expression(signal.step, (*path, "signal", "step")) if signal.step is not None else None
    name = expression(signal.name, (*path, "signal", "name")) if signal.name is not None else None
    payload = (_compile_payload(signal.payload, (*path, "signal", "payload"), expression)
               if signal.has_payload else WHOLE_BODY)
    if target is None or (route.when is not None and when is None):
        return None
    return CompiledRoute(name=route.name or f"route-{index}", when=when, final=route.final,
                         kind=kind, target=target, step=step, payload=payload,
                         keep_for=signal.keep_for, signal_name=name,
                         propagate=signal.propagate)


def _compile_payload(value: Any, path: Path, expression: Any) -> Any:
    if isinstance(value, dict):
        return {key: _compile_payload(item, (*path, key), expression)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_compile_payload(item, (*path, index), expression)
                for index, item in enumerate(value)]
    if value is None:
        return Expression(source="null", constant=None)
    return expression(value, path)


def _path_pattern(source: SourceSpec) -> re.Pattern[str]:
    pattern, position = "", 0
    for match in PARAM.finditer(source.path):
        pattern += re.escape(source.path[position:match.start()])
        pattern += f"(?P<{match[1]}>[^/]+)"
        position = match.end()
    return re.compile(pattern + re.escape(source.path[position:]))
