"""Workers the receiver tests drive through real HTTP callbacks."""

from __future__ import annotations

from ingest.callbacks import callback_url
from tests.waitpoint.workers import seen
from waitpoint import Record, await_signal, worker


@worker(queue="hooks")
class WaitsForPayment:
    async def process(self, job):
        payload = await await_signal(wait_timeout=job.args.get("wait_timeout", 5.0),
                                     key=job.args.get("key"))
        seen[job.id].append(payload)
        return Record(payload)


@worker(queue="hooks")
class WaitsOnItsCallbackUrl:
    async def process(self, job):
        url = await callback_url(wait_for=600)
        seen[job.id].append(url)
        payload = await await_signal(wait_timeout=job.args.get("wait_timeout", 5.0))
        return Record(payload)
