"""routing: the declarative YAML config that maps verified callbacks to signals.

Pure code: no network, no database. `load_config()` reads, validates and compiles a config
(every problem reported at once, with file, line and field path); `evaluate()` turns one
verified callback into the deliveries it produces.

>>> config = load_config("config/routing.yaml")
>>> source, params = config.match("/webhooks/stripe")
>>> result = evaluate(source, Callback(body=raw, headers=headers, params=params))
>>> result.outcome, result.deliveries
"""

from ._config import CompiledRoute, CompiledSource, RoutingConfig, load_config, parse_config
from ._errors import BodyError, ConfigError, ConfigIssue, RouteError
from ._evaluate import (
    Callback,
    Delivery,
    Evaluation,
    JobTarget,
    KeyTarget,
    WorkflowTarget,
    build_context,
    evaluate,
    parse_body,
)
from ._schema import DEFAULT_BODY_LIMIT, DEFAULT_CALLBACK_PATH

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_CALLBACK_PATH",
    "BodyError",
    "Callback",
    "CompiledRoute",
    "CompiledSource",
    "ConfigError",
    "ConfigIssue",
    "Delivery",
    "Evaluation",
    "JobTarget",
    "KeyTarget",
    "RouteError",
    "RoutingConfig",
    "WorkflowTarget",
    "build_context",
    "evaluate",
    "load_config",
    "parse_body",
    "parse_config",
]
