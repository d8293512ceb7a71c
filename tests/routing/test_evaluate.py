"""Evaluating callbacks against routes: pure, no IO."""

from __future__ import annotations

import hashlib
import json
import textwrap

import pytest

from routing import (
    BodyError,
    Callback,
    JobTarget,
    KeyTarget,
    WorkflowTarget,
    evaluate,
    parse_body,
    parse_config,
)

CONFIG = textwrap.dedent("""\
    version: 1
    sources:
      shop:
        path: /hooks/shop/{tenant}
        verify: {scheme: hmac, secrets: [x], header: x-sig}
        delivery_id: headers['x-delivery']
        routes:
          - name: paid
            when: body.type == 'paid'
            signal:
              job: body.job_ids
              payload:
                decision: "'approved'"
                order: {id: body.order.id, lines: "size(body.order.lines)"}
                tenant: params.tenant
                literal: 42
                nothing: null
          - name: step
            when: body.type == 'shipped'
            final: true
            signal: {workflow: body.workflow_id, step: "['ship', 'notify']"}
          - name: by-key
            when: body.type in ['shipped', 'refunded']
            signal: {key: "'order:' + body.order.id", keep_for: 60}
          - name: always
            signal: {job: query.job}
      form:
        path: /hooks/form
        verify: {scheme: none, insecure: true}
        routes:
          - when: body.Status == 'delivered'
            signal: {job: body.JobId}
    """)
COMPILED = parse_config(CONFIG, "t.yaml", {})
SHOP = COMPILED.sources["shop"]


def shop(body, query=None, headers=None):
    raw = json.dumps(body).encode()
    return evaluate(SHOP, Callback(body=raw, headers={"Content-Type": "application/json",
                                                      **(headers or {})},
                                   query=query or {}, params={"tenant": "acme"}))


def test_matching_routes_all_deliver_in_order_with_nested_payload():
    result = shop({"type": "paid", "job_ids": [3, "4", 3], "order": {"id": "o1", "lines": [1, 2]}},
                  query={"job": "9"}, headers={"X-Delivery": "d-1"})
    assert result.outcome == "routed" and result.delivery_id == "d-1"
    assert [d.route for d in result.deliveries] == ["paid", "always"]
    paid, always = result.deliveries
    assert paid.target == JobTarget((3, 4))
    assert paid.payload == {"decision": "approved", "order": {"id": "o1", "lines": 2},
                            "tenant": "acme", "literal": 42, "nothing": None}
    assert always.target == JobTarget((9,)) and always.payload["type"] == "paid"


def test_final_stops_after_a_matching_route_and_workflow_steps_are_listed():
    result = shop({"type": "shipped", "workflow_id": 17, "order": {"id": "o2"}})
    assert [d.route for d in result.deliveries] == ["step"]
    assert result.deliveries[0].target == WorkflowTarget(17, ("ship", "notify"))


def test_key_targets_and_keep_for():
    result = shop({"type": "refunded", "order": {"id": "o3"}})
    by_key = next(d for d in result.deliveries if d.route == "by-key")
    assert by_key.target == KeyTarget("order:o3", 60)


def test_a_route_whose_target_is_missing_records_no_target():
    result = shop({"type": "other"})  # only "always" matches, and query.job is absent
    assert result.deliveries == () and result.outcome == "no_target"
    assert result.errors[-1].route == "always" and result.errors[-1].field == "signal.job"


def test_unrouted_when_nothing_matches():
    form = COMPILED.sources["form"]
    result = evaluate(form, Callback(body=b"Status=queued&JobId=5",
                                     headers={"content-type": "application/x-www-form-urlencoded"}))
    assert result.outcome == "unrouted" and result.deliveries == ()


def test_form_bodies_and_the_body_hash_delivery_id():
    form = COMPILED.sources["form"]
    raw = b"Status=delivered&JobId=5&Tag=a&Tag=b"
    result = evaluate(form, Callback(
        body=raw, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}))
    assert result.deliveries[0].target == JobTarget((5,))
    assert result.deliveries[0].payload == {"Status": "delivered", "JobId": "5", "Tag": ["a", "b"]}
    assert result.delivery_id == "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("bad", ["abc", "²", "١٢", "-3", "1e3"])
def test_bad_job_ids_are_route_errors_not_crashes(bad):
    # "²" passes str.isdigit() but not int(): hypothesis found it crashing evaluation.
    result = shop({"type": "paid", "job_ids": [bad], "order": {"id": "o", "lines": []}})
    (error,) = [e for e in result.errors if e.route == "paid"]
    assert error.field == "signal.job" and repr(bad) in error.message


def test_when_errors_are_recorded_per_route():
    result = shop({"no_type": True}, query={"job": "1"})
    when_errors = [e for e in result.errors if e.field == "when"]
    assert {e.route for e in when_errors} == {"paid", "step", "by-key"}
    assert all("'type'" in e.message for e in when_errors)
    # The missing delivery id header is recorded too, and a body hash used instead.
    assert any(e.field == "delivery_id" for e in result.errors)
    assert result.outcome == "routed"  # "always" still delivered


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b'{"a": 1}', "application/json", {"a": 1}),
    (b'{"a": 1}', "application/vnd.api+json", {"a": 1}),
    (b'[1]', None, [1]),
    (b"a=1&b=", "application/x-www-form-urlencoded", {"a": "1", "b": ""}),
    (b"plain text", "text/plain", "plain text"),
    (b"", "application/json", None),
])
def test_parse_body(body, content_type, expected):
    assert parse_body(body, content_type) == expected


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b"a=1&&&=", "application/x-www-form-urlencoded"),
])
def test_malformed_bodies_raise_body_error(body, content_type):
    with pytest.raises(BodyError):
        parse_body(body, content_type)


def test_lone_surrogates_in_json_do_not_break_evaluation():
    raw = b'{"type": "paid", "job_ids": 1, "order": {"id": "\\ud800", "lines": []}}'
    result = evaluate(SHOP, Callback(body=raw, headers={"content-type": "application/json"},
                                     params={"tenant": "t"}))
    assert result.deliveries[0].target == JobTarget((1,))
    assert result.deliveries[0].payload["order"]["id"] == "\ufffd"
