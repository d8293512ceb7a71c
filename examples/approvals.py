"""An approval flow: a job waits for a decision, then charges or gives up.

Run receiver + worker:     ./scripts/run
Enqueue a job (2nd shell): .venv/bin/python -m examples.approvals
Approve it over HTTP:      curl -X POST localhost:8080/demo/approvals/JOB_ID \\
                             -H 'content-type: application/json' -d '{"decision": "approved"}'
...or from the CLI:        .venv/bin/waitpoint signal JOB_ID --payload '{"decision": "approved"}'
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from waitpoint import Cancel, Record, SignalTimeout, Waitpoint, await_signal, worker

log = structlog.get_logger("examples.approvals")


async def charge_card(user_id: int) -> str:
    log.info("charging card", user_id=user_id)
    return f"charge-{user_id}"


@worker(queue="approvals")
class ApprovalWorker:
    async def process(self, job):
        try:
            payload = await await_signal(wait_for=timedelta(days=1))
        except SignalTimeout:
            return Cancel("no decision")
        if payload["decision"] == "approved":
            return Record(await charge_card(job.args["user_id"]))
        return Cancel(f"declined: {payload['decision']}")


async def main() -> None:
    async with Waitpoint(queues={}, migrate=True):
        job = await ApprovalWorker.enqueue({"user_id": 123})
    print(f"enqueued job {job.id}; approve it with:\n"
          f"  curl -X POST localhost:8080/demo/approvals/{job.id} "
          f"-H 'content-type: application/json' -d '{{\"decision\": \"approved\"}}'")


if __name__ == "__main__":
    asyncio.run(main())
