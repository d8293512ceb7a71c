"""From a routing evaluation to what the inbox stores: encoded deliveries, the outcome,
the errors, and the HTTP status that goes with them. Shared by the receiver and by
`waitpoint replay --events`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import routing
from waitpoint import _codec


@dataclass(frozen=True)
class Prepared:
    deliveries: list[dict[str, Any]]  # payload: erlpack bytes
    errors: list[dict[str, Any]]
    outcome: str  # routed | unrouted | no_target | payload_error
    status: int  # 200, or 422 when every payload failed to encode


def prepare(result: routing.Evaluation) -> Prepared:
    errors = [error.as_dict() for error in result.errors]
    deliveries: list[dict[str, Any]] = []
    payload_errors = []
    for delivery in result.deliveries:
        try:
            payload = _codec.encode(delivery.payload)
        except (TypeError, ValueError) as error:
            payload_errors.append({"route": delivery.route, "field": "signal.payload",
                                   "message": str(error)})
            continue
        target = delivery.target
        if isinstance(target, routing.JobTarget):
            deliveries.append({"route": delivery.route, "jobs": list(target.job_ids),
                               "payload": payload})
        elif isinstance(target, routing.KeyTarget):
            deliveries.append({"route": delivery.route, "key": target.key,
                               "keep_for": target.keep_for, "payload": payload})
        else:
            deliveries.append({"route": delivery.route, "workflow": str(target.workflow_id),
                               "steps": list(target.steps), "payload": payload})
    outcome, status = result.outcome, 200
    if payload_errors:
        errors += payload_errors
        if not deliveries:
            outcome, status = "payload_error", 422
    elif result.outcome == "routed" and not deliveries:
        outcome = "no_target"
    return Prepared(deliveries, errors, outcome, status)


def describe_target(delivery: dict[str, Any]) -> str:
    if "key" in delivery:
        return f"key:{delivery['key']}"
    if "workflow" in delivery:
        return f"workflow:{delivery['workflow']}/" + ",".join(delivery["steps"])
    return "jobs:" + ",".join(map(str, delivery["jobs"]))
