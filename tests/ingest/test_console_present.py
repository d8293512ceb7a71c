"""How the console shows things: bodies by content type, payloads, durations, the chart
and the dependency layers. Pure functions, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.console.present import (
    dependency_layers,
    graph_layout,
    minute_chart,
    show_body,
    show_payload,
    span,
)
from waitpoint import codec
from waitpoint.inspect import WorkflowNode


def test_bodies_are_shown_by_their_content_type():
    assert show_body(b'{"b":1,"a":[2]}', "application/json; charset=utf-8").text == \
        '{\n  "b": 1,\n  "a": [\n    2\n  ]\n}'
    assert show_body(b'{"x": 1}', None).kind == "json"  # no type, but JSON
    form = show_body(b"a=1&b=&a=two", "application/x-www-form-urlencoded")
    assert form.kind == "form" and form.fields == [("a", "1"), ("b", ""), ("a", "two")]
    assert show_body(b"{not json", "application/json") == show_body(b"{not json", "text/plain")
    binary = show_body(bytes(range(250, 256)) * 200, "application/octet-stream")
    assert binary.kind == "binary" and binary.text.endswith("…")
    assert show_body(b"", "application/json").kind == "empty"


def test_payloads_are_decoded_as_the_job_receives_them():
    assert show_payload(codec.encode({"decision": "approved", "n": 2})) == \
        '{\n  "decision": "approved",\n  "n": 2\n}'
    assert show_payload(b"\x00garbage").startswith("(cannot decode")


def test_durations_keep_their_two_largest_units():
    assert span(0.3) == "0.3 s"
    assert span(42) == "42 s"
    assert span(timedelta(hours=2, minutes=5, seconds=9)) == "2 h 5 min"
    assert span(timedelta(days=3, hours=1)) == "3 d 1 h"
    assert span(-90) == "-1 min 30 s"
    assert span(None) == "\u2013"


def test_the_chart_has_one_bar_per_minute_stacked_and_scaled_to_the_peak():
    now = datetime(2026, 11, 29, 12, 30, 40, tzinfo=UTC)
    minute = datetime(2026, 11, 29, 12, 28, tzinfo=UTC)
    rows = [{"minute": minute, "kind": "outcome", "count": 30},
            {"minute": minute, "kind": "rejected", "count": 10},
            {"minute": minute + timedelta(minutes=2), "kind": "outcome", "count": 20},
            {"minute": minute - timedelta(hours=2), "kind": "outcome", "count": 999}]
    chart = minute_chart(rows, minutes=60, now=now)
    assert len(chart.bars) == 60 and chart.peak == 40
    assert chart.bars[-1].minute == datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
    busiest = chart.bars[-3]
    assert (busiest.accepted, busiest.rejected) == (30, 10)
    assert busiest.accepted_height + busiest.rejected_height == chart.height
    assert sum(bar.accepted for bar in chart.bars) == 50  # the old minute is outside


def step(name, deps=(), kind="step", node_id=0):
    return WorkflowNode(kind, node_id, name, "available", None, tuple(deps), None, None)


def test_a_node_sits_right_of_the_furthest_node_it_depends_on():
    rows = [step("a", node_id=1), step("b", ["a"], node_id=2), step("c", ["a"], node_id=3),
            step("d", ["b", "c"], node_id=4), step("e", ["a", "d"], node_id=5),
            step("sub", ["a"], kind="workflow", node_id=6), step("lost", ["gone"], node_id=7)]
    layers = [[node.name for node in layer] for layer in dependency_layers(rows)]
    assert layers == [["a", "lost"], ["b", "c", "sub"], ["d"], ["e"]]
    assert dependency_layers([]) == []


def test_the_graph_draws_one_arrow_per_dependency_inside_the_workflow():
    rows = [step("a", node_id=1), step("b", ["a"], node_id=2), step("c", ["a"], node_id=3),
            step("d", ["b", "c", "../outside"], node_id=4)]
    layout = graph_layout(dependency_layers(rows))
    assert len(layout.edges) == 4  # a->b, a->c, b->d, c->d; "../outside" is not drawn
    at = {box.node.name: (box.x, box.y) for box in layout.boxes}
    assert at["a"][0] < at["b"][0] == at["c"][0] < at["d"][0]
    assert at["b"][1] < at["c"][1]
    assert layout.width >= at["d"][0] + layout.box_width
    assert graph_layout([]).boxes == []
