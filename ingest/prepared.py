"""From a routing evaluation to what the inbox stores: encoded deliveries, the outcome,
the errors, and the HTTP status that goes with them. Shared by the receiver and by
`waitpoint replay --events`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import routing
from waitpoint import codec

from .events import Delivery, Outcome, target_json


@dataclass(frozen=True)
class Prepared:
    deliveries: list[Delivery]
    errors: list[dict[str, Any]]
    outcome: Outcome
    status: int  # 200, or 422 when every payload failed to encode


def prepare(result: routing.Evaluation) -> Prepared:
    errors = [error.as_dict() for error in result.errors]
    deliveries: list[Delivery] = []
    payload_errors = []
    for delivery in result.deliveries:
        try:
            payload = codec.encode(delivery.payload)
        except (TypeError, ValueError) as error:
            payload_errors.append({"route": delivery.route, "field": "signal.payload",
                                   "message": str(error)})
            continue
        deliveries.append(Delivery(delivery.route, delivery.target, payload))
    outcome: Outcome = result.outcome
    status = 200
    if payload_errors:
        errors += payload_errors
        if not deliveries:
            outcome, status = "payload_error", 422
    elif result.outcome == "routed" and not deliveries:
        outcome = "no_target"
    return Prepared(deliveries, errors, outcome, status)


def describe(result: routing.Evaluation) -> dict[str, Any]:
    """What the receiver would store, with payloads as the job will receive them."""
    deliveries = []
    for delivery in result.deliveries:
        entry: dict[str, Any] = {"route": delivery.route, "target": target_json(delivery.target)}
        try:
            entry["payload"] = codec.decode(codec.encode(delivery.payload))
        except (TypeError, ValueError) as error:
            entry["payload_error"] = str(error)
        deliveries.append(entry)
    return {"outcome": result.outcome, "delivery_id": result.delivery_id,
            "matched": list(result.matched), "deliveries": deliveries,
            "errors": [error.as_dict() for error in result.errors]}
