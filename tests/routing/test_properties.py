"""Random JSON never crashes evaluation: it yields deliveries or per-route errors."""

from __future__ import annotations

import json
import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing import Callback, evaluate, parse_config

SOURCE = parse_config(textwrap.dedent("""\
    version: 1
    sources:
      s:
        path: /s
        verify: {scheme: stripe, secrets: [x]}
        routes:
          - when: body.type == 'a'
            signal: {job: body.data.object.metadata.job_id, payload: {n: body.data.amount}}
          - when: has(body.items) && size(body.items) > 1
            signal: {key: "'k:' + string(body.items[0])"}
          - signal: {workflow: body.wf, step: body.step}
          - signal: {job: body}
    """), "p.yaml", {}).sources["s"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "data", "object", "metadata", "job_id", "items",
                                       "wf", "step", "amount", "id"]) | st.text(max_size=5),
                      children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_bodies_never_crash_evaluation(body):
    raw = json.dumps(body).encode()
    result = evaluate(SOURCE, Callback(body=raw, headers={"content-type": "application/json"}))
    assert result.outcome in {"routed", "unrouted", "no_target"}
    assert result.delivery_id
    for error in result.errors:
        assert error.field and error.message


SHORTCUT_EXPRESSIONS = [
    "body.type", "body.data.object.metadata.job_id", "body['type']", 'body["data"]["amount"]',
    "body.type == 'a'", "body.type != 'a'", "body.data.amount == 'x'", "headers['x-id']",
    "body.id", "body", "source", "params.job_id", "query.k == 'v'", "'approved'", '"x y"',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.sampled_from(SHORTCUT_EXPRESSIONS))
def test_the_shortcut_answers_what_cel_answers(body, text):
    """Member paths and string comparisons skip CEL; whatever they return (a value or an
    error) must be exactly what CEL returns."""
    import dataclasses

    from routing._expressions import ExpressionError, Scope, compile_expression

    expression = compile_expression(text)
    assert expression.shortcut is not None, text
    through_cel = dataclasses.replace(expression, shortcut=None)
    variables = {"body": body, "headers": {"x-id": "h-1"}, "query": {"k": "v"},
                 "params": {"job_id": "7"}, "source": "s"}
    answers = []
    for candidate in (expression, through_cel):
        try:
            answers.append(("value", candidate.evaluate(
                Scope(variables, frozenset(variables)))))
        except ExpressionError as error:
            answers.append(("error", str(error)))
    assert answers[0] == answers[1]


def test_other_expressions_take_no_shortcut():
    from routing._expressions import compile_expression

    for text in ("has(body.x)", "body.a + 'x'", "body.x == 1", "'k:' + body.id",
                 "body.items[0]", "size(body.items) > 1"):
        assert compile_expression(text).shortcut is None, text
