"""The shape of the routing config (version 1), checked by pydantic."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from .schemes import VerifySpec

DEFAULT_BODY_LIMIT = 1024 * 1024
"""Bodies over this many bytes are refused with 413 unless the config sets `body_limit`."""
DEFAULT_CALLBACK_PATH = "/callbacks/signal"
"""Where per-job callback URLs point unless the config's `callbacks.path` says otherwise."""


def _scalar(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise ValueError("expected an expression (a string) or a constant, not a "
                         f"{'mapping' if isinstance(value, dict) else 'list'}")
    return value


ExpressionText = Annotated[str | int | float | bool, BeforeValidator(_scalar)]

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PATH_TEMPLATE = re.compile(r"^/[A-Za-z0-9._~\-/{}]*$")
PARAM = re.compile(r"\{([^{}]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Strict):
    job: ExpressionText | None = None
    workflow: ExpressionText | None = None
    step: ExpressionText | None = None
    key: ExpressionText | None = None
    keep_for: Annotated[float, Field(gt=0)] | None = None
    name: ExpressionText | None = None
    propagate: bool = True
    payload: Any = None

    @model_validator(mode="after")
    def _one_target(self) -> SignalSpec:
        targets = [name for name in ("job", "workflow", "key") if getattr(self, name) is not None]
        if not targets:
            raise ValueError("a signal needs a target: job, workflow (with step or name) or key")
        if len(targets) > 1:
            raise ValueError(f"a signal has one target, not {' and '.join(targets)}")
        if self.step is not None and self.workflow is None:
            raise ValueError("step goes with workflow")
        if self.workflow is not None and self.step is None and self.name is None:
            raise ValueError("a workflow target needs a step (signal its jobs) or a name "
                             "(broadcast the workflow's named signal)")
        if self.keep_for is not None and self.key is None:
            raise ValueError("keep_for applies to key targets only")
        if self.name is not None and self.key is not None:
            raise ValueError("name applies to job and workflow targets, not to key")
        if "propagate" in self.model_fields_set and (self.workflow is None or self.step):
            raise ValueError("propagate applies to a workflow broadcast (workflow and name)")
        return self

    @property
    def has_payload(self) -> bool:
        return "payload" in self.model_fields_set


class RouteSpec(_Strict):
    name: str | None = None
    when: ExpressionText | None = None
    final: bool = False
    signal: SignalSpec


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
DEFAULT_EVENTS_RETENTION = 30 * 86_400.0
"""Seconds: how long a stored event (and so its delivery id's dedupe) is kept."""


def _duration_seconds(value: Any) -> Any:
    """30d, 12h, 90m, 45s, or a number of seconds."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found:
            return float(found[1]) * _UNITS[found[2]]
        raise ValueError(f"expected a duration such as 30d, 12h, 90m or 45s, got {value!r}")
    return value


Duration = Annotated[float, BeforeValidator(_duration_seconds), Field(ge=3600)]
"""A retention: at least an hour (a shorter one would forget duplicates a provider still
retries)."""


class SourceSpec(_Strict):
    path: str
    verify: VerifySpec
    delivery_id: ExpressionText | None = None
    body: Literal["auto", "json", "form", "text"] = "auto"
    redact_body_fields: list[Annotated[str, Field(min_length=1)]] = []
    retention: Duration | None = None
    routes: list[RouteSpec] = []
    # The path is checked by path_problem() on the raw config (routing._config), so that a
    # bad path is reported together with every other problem of its source.


def path_problem(path: str) -> str | None:
    """What is wrong with a source's path template, or None."""
    if not PATH_TEMPLATE.match(path):
        return (f"path {path!r} must start with / and use URL-safe characters, with {{name}} "
                "for path parameters")
    names = PARAM.findall(path)
    for name in names:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            return f"path parameter {{{name}}} must be a lower-case identifier"
    if len(set(names)) != len(names):
        return "path parameters must have distinct names"
    return None


class CallbacksSpec(_Strict):
    """Per-job callback URLs (ingest.callbacks): where they point and how they are signed."""

    secret: Annotated[SecretStr, Field(min_length=32)]
    public_url: Annotated[str, Field(pattern=r"^https?://")]
    path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~\-/]*$")] = DEFAULT_CALLBACK_PATH


class ConfigSpec(_Strict):
    version: Literal[1]
    sources: Annotated[dict[str, SourceSpec], Field(min_length=1)]
    body_limit: Annotated[int, Field(ge=1024, le=100 * 1024 * 1024)] = DEFAULT_BODY_LIMIT
    events_retention: Duration = DEFAULT_EVENTS_RETENTION
    callbacks: CallbacksSpec | None = None
