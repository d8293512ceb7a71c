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
