"""CEL expressions (common-expression-language), compiled once when the config loads."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cel

VARIABLES = ("body", "headers", "query", "params", "source")
def _split(text: str, separator: str) -> list[str]:
    if not isinstance(text, str) or not isinstance(separator, str) or not separator:
        raise ValueError("split(text, separator) takes two strings, the separator not empty")
    return text.split(separator)


FUNCTIONS: dict[str, Callable[..., Any]] = {"json": json.loads, "split": _split}
"""Extensions to standard CEL: json(text) parses a JSON string (Slack's form `payload`);
split(text, separator) takes apart ids packed into one string (Discord's custom_id)."""


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Expression:
    """A compiled expression, or a YAML constant (`job: 42`, `final: true`)."""

    source: str
    program: Any = None
    constant: Any = None
    variables: frozenset[str] = frozenset()  # the context variables it reads

    def evaluate(self, context: cel.Context) -> Any:
        if self.program is None:
            return self.constant
        try:
            return self.program.execute(context)
        except Exception as error:  # the library raises KeyError, TypeError, RuntimeError...
            raise ExpressionError(_describe(error)) from None


def compile_expression(value: str | int | float | bool) -> Expression:
    if not isinstance(value, str):
        return Expression(source=repr(value), constant=value)
    try:
        program = cel.compile(value)
    except ValueError as error:
        raise ExpressionError(_first_line(str(error))) from None
    references = program.references()
    unknown = sorted(set(references["variables"]) - set(VARIABLES))
    if unknown:
        raise ExpressionError(f"unknown variable {unknown[0]!r} in {value!r}; "
                              f"expressions see {', '.join(VARIABLES)}")
    return Expression(source=value, program=program, variables=frozenset(references["variables"]))


def _first_line(message: str) -> str:
    # "Failed to parse expression 'x ==': ERROR: <input>:1:5: Syntax error: ...\n| x ==\n| ..^"
    head, _, rest = message.partition("ERROR: <input>:")
    return (head + rest.replace("\n", " ")).strip() if rest else message


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no such key {error.args[0]!r}"
    return str(error).split(". CEL does not coerce")[0]
