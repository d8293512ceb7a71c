"""CEL expressions (common-expression-language), compiled once when the config loads."""

from __future__ import annotations

import difflib
import json
import re
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


BUILTIN_FUNCTIONS = frozenset({
    "size", "int", "uint", "double", "string", "bytes", "bool", "dyn", "type", "duration",
    "timestamp", "matches", "contains", "startsWith", "endsWith", "getFullYear", "getMonth",
    "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours", "getMinutes",
    "getSeconds", "getMilliseconds",
})
"""CEL's standard functions (the macros has, all, exists, exists_one, map, filter are not
functions and never appear in references)."""
CONDITIONS = frozenset({
    "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "_&&_", "_||_", "!_", "@in", "_in_",
    "matches", "contains", "startsWith", "endsWith", "bool",
})
"""Operators and functions whose result is true or false."""
MACRO = re.compile(r"(?:^|[^\w.])has\(|\.(?:all|exists|exists_one)\(")
STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
SELECTION = re.compile(r"\b(headers|query|params|source)((?:\s*(?:\.\s*[A-Za-z_]\w*|\[[^\]]*\]))*)")
SELECTOR = re.compile(r"\.\s*([A-Za-z_]\w*)|\[\s*(?:'([^']*)'|\"([^\"]*)\"|([^\]]*))\s*\]")
MACRO_VARIABLE = re.compile(r"\.(?:all|exists|exists_one|map|filter)\(\s*([A-Za-z_]\w*)\s*,")


class ExpressionError(ValueError):
    pass


_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


class Scope:
    """One callback's variables, and their CEL context, built only when an expression
    needs CEL: converting the variables to CEL values is most of an evaluation's cost,
    and the common expressions (`body.id`, `body.type == 'x'`) are answered without it."""

    __slots__ = ("_context", "_for_cel", "variables")

    def __init__(self, variables: dict[str, Any], for_cel: frozenset[str]) -> None:
        self.variables = variables
        self._for_cel = for_cel
        self._context: cel.Context | None = None

    def cel(self) -> cel.Context:
        if self._context is None:
            variables = {name: value for name, value in self.variables.items()
                         if name in self._for_cel}
            try:
                self._context = cel.Context(variables=variables, functions=FUNCTIONS)
            except ValueError:
                # JSON may carry lone surrogates ("\ud800"), which CEL strings cannot hold.
                self._context = cel.Context(variables=_scrub(variables), functions=FUNCTIONS)
        return self._context


_MISS = object()
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_KEY = rf"\.{_NAME}|\[\s*'[^'\\]*'\s*\]|\[\s*\"[^\"\\]*\"\s*\]"
_PATH = rf"(body|headers|query|params|source)((?:\s*(?:{_KEY}))*)"
_MEMBER = re.compile(rf"\s*{_PATH}\s*")
_EQUALS = re.compile(rf"\s*{_PATH}\s*(==|!=)\s*(?:'([^'\\]*)'|\"([^\"\\]*)\")\s*")
_LITERAL = re.compile(r"\s*(?:'([^'\\]*)'|\"([^\"\\]*)\")\s*")
_KEYS = re.compile(rf"\.({_NAME})|\[\s*'([^'\\]*)'\s*\]|\[\s*\"([^\"\\]*)\"\s*\]")


def _plain(value: Any) -> bool:
    """A value CEL would hand back unchanged: no conversion, no surrogate scrubbing."""
    if value is None or isinstance(value, bool | float):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and not _SURROGATE.search(value)


def _shortcut(text: str) -> Callable[[dict[str, Any]], Any] | None:
    """A direct evaluation of a string literal (`'approved'`), a member path
    (`body.data.object.id`) or its comparison with a string (`body.type == 'x'`), for
    values CEL would return as they are. It gives
    up (_MISS) on anything else, a missing key included, and CEL answers (and words
    the error) instead: the result is always CEL's."""
    literal_only = _LITERAL.fullmatch(text)
    if literal_only is not None:  # "'approved'": a string constant, as CEL would give it
        constant = next(group for group in literal_only.groups() if group is not None)
        if _plain(constant):
            return lambda _variables: constant
        return None
    equals = _EQUALS.fullmatch(text)
    member = _MEMBER.fullmatch(text) if equals is None else None
    found = equals or member
    if found is None:
        return None
    variable = found[1]
    keys = tuple(next(group for group in match.groups() if group is not None)
                 for match in _KEYS.finditer(found[2]))

    def lookup(variables: dict[str, Any]) -> Any:
        value = variables.get(variable, _MISS)
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return _MISS
            value = value[key]
        return value if _plain(value) else _MISS

    if member is not None:
        return lookup
    assert equals is not None
    negate, literal = equals[3] == "!=", equals[4] if equals[4] is not None else equals[5]

    def compare(variables: dict[str, Any]) -> Any:
        value = lookup(variables)
        if not isinstance(value, str):
            return _MISS  # CEL's rules for other types (and its errors) apply
        return (value != literal) if negate else (value == literal)

    return compare


@dataclass(frozen=True)
class Expression:
    """A compiled expression, or a YAML constant (`job: 42`, `final: true`)."""

    source: str
    program: Any = None
    constant: Any = None
    variables: frozenset[str] = frozenset()  # the context variables it reads
    functions: frozenset[str] = frozenset()  # the functions and operators it calls
    shortcut: Callable[[dict[str, Any]], Any] | None = None

    def evaluate(self, scope: Scope) -> Any:
        if self.program is None:
            return self.constant
        if self.shortcut is not None:
            value = self.shortcut(scope.variables)
            if value is not _MISS:
                return value
        try:
            return self.program.execute(scope.cel())
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
    # Comprehension variables ([...].exists(x, ...)) are reported as variables too.
    bound = set(MACRO_VARIABLE.findall(value))
    unknown = sorted(set(references["variables"]) - set(VARIABLES) - bound)
    if unknown:
        hint = ""
        if re.search(rf"\b(?:headers|query)\.[A-Za-z_]\w*\s*-\s*{unknown[0]}\b", value):
            hint = " ('-' subtracts: a header name with '-' is selected as headers['x-name'])"
        raise ExpressionError(f"unknown variable {unknown[0]!r} in {value!r}; "
                              f"expressions see {', '.join(VARIABLES)}{hint}")
    return Expression(source=value, program=program,
                      variables=frozenset(references["variables"]) & frozenset(VARIABLES),
                      functions=frozenset(references["functions"]), shortcut=_shortcut(value))


def expression_problems(expression: Expression, *, params: frozenset[str] | None = None,
                        condition: bool = False) -> list[str]:
    """What a compiled expression gets wrong that only shows at run time: unknown
    functions, selections the variables cannot have (params the path does not declare,
    fields of a string), and a condition (`when`) that is a value, not true or false.

    `params`: the path's parameter names (None: not known, skip that check)."""
    text = expression.source
    if expression.program is None:
        if condition and not isinstance(expression.constant, bool):
            return [f"when must be true or false, got {text}"]
        return []
    problems = [
        f"unknown function {name}() in {text!r}; expressions have CEL's own functions and "
        f"{', '.join(f'{f}()' for f in FUNCTIONS)}"
        for name in sorted(expression.functions)
        if name[:1].isalpha() and name not in BUILTIN_FUNCTIONS and name not in FUNCTIONS
    ]
    literals = [match.span() for match in STRING_LITERAL.finditer(text)]
    for match in SELECTION.finditer(text):
        start = match.start()
        if any(a <= start < b for a, b in literals) or text[:start].rstrip().endswith("."):
            continue
        variable = match[1]
        chain = [next(group for group in selector.groups() if group is not None).strip()
                 for selector in SELECTOR.finditer(match[2])]
        problems += _selection_problems(variable, chain, params, text)
    if re.search(r"\bheaders\.[A-Za-z_]\w*\s*-\s*[A-Za-z]", text):
        problems.append(f"in {text!r}, '-' subtracts: a header name with '-' is selected as "
                        "headers['x-name']")
    if condition and not (expression.functions & CONDITIONS) and not MACRO.search(text) \
            and text.strip() not in ("true", "false"):
        problems.append(f"when must be true or false: {text!r} is a value; compare it "
                        f"({text} == '...'), or write {text} == true for a boolean field")
    return problems


def _selection_problems(variable: str, chain: list[str], params: frozenset[str] | None,
                        text: str) -> list[str]:
    if variable == "source":
        return [f"source is the source's name (a string): {text!r} selects "
                f"{chain[0]!r} from it"] if chain else []
    if len(chain) > 1:
        return [f"{variable} values are strings: {variable}.{chain[0]}.{chain[1]} in "
                f"{text!r} selects inside a string"]
    if variable != "params" or params is None or not chain:
        return []
    if not params:
        return [f"params.{chain[0]} in {text!r}: this source's path has no {{name}} "
                "parameters"]
    if chain[0] not in params:
        near = difflib.get_close_matches(chain[0], sorted(params), n=1)
        hint = f"; did you mean params.{near[0]}?" if near else ""
        return [f"params.{chain[0]} in {text!r}: the path declares "
                f"{', '.join(f'{{{p}}}' for p in sorted(params))}{hint}"]
    return []


def _first_line(message: str) -> str:
    # "Failed to parse expression 'x ==': ERROR: <input>:1:5: Syntax error: ...\n| x ==\n| ..^"
    head, _, rest = message.partition("ERROR: <input>:")
    return (head + rest.replace("\n", " ")).strip() if rest else message


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no such key {error.args[0]!r}"
    return str(error).split(". CEL does not coerce")[0]
