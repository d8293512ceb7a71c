"""How stored things are shown: bodies pretty-printed by their content type, payloads
decoded, times as "3 min ago", the chart of deliveries per minute and the layers of a
workflow's dependency graph. Pure functions, so each is tested without a browser."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from waitpoint import codec
from waitpoint.inspect import WorkflowNode

NOTHING = "\u2013"
"""What a missing time or duration shows (an en dash)."""


@dataclass(frozen=True)
class ShownBody:
    kind: Literal["json", "form", "text", "binary", "empty"]
    text: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)


def show_body(body: bytes, content_type: str | None) -> ShownBody:
    """JSON indented, form fields as a table, text as is, anything else as a hex preview."""
    if not body:
        return ShownBody("empty")
    kind = (content_type or "").split(";")[0].strip().lower()
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return ShownBody("binary", body[:512].hex(" ") + (" …" if len(body) > 512 else ""))
    if kind.endswith("json") or (not kind and text.lstrip()[:1] in "[{"):
        try:
            return ShownBody("json", json.dumps(json.loads(text), indent=2, ensure_ascii=False))
        except ValueError:
            pass
    if kind == "application/x-www-form-urlencoded":
        return ShownBody("form", fields=urllib.parse.parse_qsl(text, keep_blank_values=True))
    return ShownBody("text", text)


def show_payload(payload: bytes | None) -> str:
    """A signal's stored payload (erlpack) as the job receives it, as indented JSON."""
    if payload is None:
        return ""
    try:
        value = codec.decode(bytes(payload))
    except Exception as error:  # an undecodable payload is shown, not fatal to the page
        return f"(cannot decode: {error})"
    return pretty_json(value)


def pretty_json(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return NOTHING
    return span((now or datetime.now(UTC)) - moment) + " ago"


def span(delta: timedelta | float | None) -> str:
    """A duration in its largest two units: "2 h 5 min", "40 s", "0.3 s"."""
    if delta is None:
        return NOTHING
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 10:
        return f"{sign}{seconds:.1f} s"
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    parts = []
    for name, size in units:
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{int(count)} {name}")
        if len(parts) == 2:
            break
    return sign + " ".join(parts)


def moment(value: datetime | None) -> str:
    return NOTHING if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Bar:
    minute: datetime
    accepted: int
    rejected: int
    x: float
    accepted_height: float
    rejected_height: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: int
    width: int = 1200
    height: int = 120


def minute_chart(rows: Iterable[Mapping[str, Any]], *, minutes: int,
                 now: datetime) -> Chart:
    """Accepted (any outcome) and refused requests per minute, the last `minutes` minutes,
    as stacked bars scaled to the busiest minute (an empty minute is a gap, not missing)."""
    last = now.replace(second=0, microsecond=0)
    slots = [last - timedelta(minutes=minutes - 1 - i) for i in range(minutes)]
    accepted = dict.fromkeys(slots, 0)
    rejected = dict.fromkeys(slots, 0)
    for row in rows:
        minute = row["minute"]
        target = rejected if row["kind"] == "rejected" else accepted
        if minute in target:
            target[minute] += int(row["count"])
    peak = max([accepted[s] + rejected[s] for s in slots] + [1])
    chart = Chart([], peak)
    step = chart.width / minutes
    bars = [Bar(s, accepted[s], rejected[s], round(i * step, 2),
                round(accepted[s] / peak * chart.height, 2),
                round(rejected[s] / peak * chart.height, 2)) for i, s in enumerate(slots)]
    return Chart(bars, peak)


def dependency_layers(steps: Sequence[WorkflowNode]) -> list[list[WorkflowNode]]:
    """A workflow's steps and sub-workflows in columns: a node sits one column right of
    the furthest node it depends on. A dependency on a name not in the workflow (or a
    cycle, which the engine refuses) does not move a node."""
    nodes = {node.name: node for node in steps}
    depth: dict[str, int] = {}

    def place(name: str, seen: frozenset[str]) -> int:
        if name in depth:
            return depth[name]
        node = nodes[name]
        parents = [d for d in node.deps if d in nodes and d not in seen]
        depth[name] = 1 + max((place(d, seen | {name}) for d in parents), default=-1)
        return depth[name]

    for name in nodes:
        place(name, frozenset())
    layers: list[list[WorkflowNode]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name, node in nodes.items():
        layers[depth[name]].append(node)
    return [sorted(layer, key=lambda n: n.id) for layer in layers]


@dataclass(frozen=True)
class Box:
    node: WorkflowNode
    x: float
    y: float


@dataclass(frozen=True)
class GraphLayout:
    """Where each node's box and each dependency's arrow go, in SVG units."""

    boxes: list[Box]
    edges: list[str]
    width: float
    height: float
    box_width: float = 190
    box_height: float = 44


def graph_layout(layers: list[list[WorkflowNode]]) -> GraphLayout:
    """Boxes in columns (one per layer), an arrow from each dependency's right edge to its
    dependant's left edge (a cubic curve, as an SVG path)."""
    box_width, box_height, column_gap, row_gap, margin = 190.0, 44.0, 70.0, 14.0, 4.0
    boxes: dict[str, Box] = {}
    for column, layer in enumerate(layers):
        for row, node in enumerate(layer):
            boxes[node.name] = Box(node, margin + column * (box_width + column_gap),
                                   margin + row * (box_height + row_gap))
    edges = []
    for box in boxes.values():
        for dep in box.node.deps:
            start = boxes.get(dep)
            if start is None:
                continue
            x1, y1 = start.x + box_width, start.y + box_height / 2
            x2, y2 = box.x, box.y + box_height / 2
            bend = (x2 - x1) / 2
            edges.append(f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2:g},{y2:g}")
    tallest = max((len(layer) for layer in layers), default=0)
    width = 2 * margin + len(layers) * box_width + max(len(layers) - 1, 0) * column_gap
    height = 2 * margin + tallest * box_height + max(tallest - 1, 0) * row_gap
    return GraphLayout(list(boxes.values()), edges, width, height, box_width, box_height)
