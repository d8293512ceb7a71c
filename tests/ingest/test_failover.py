"""A database failover, as the receiver sees it: every backend terminated again and again
while deliveries arrive. Every request gets an answer in bounded time (200 stored, or 503
for the provider to retry), no in-flight slot leaks, and after retries every delivery is
stored once and signals its job once: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import routing
from ingest.app import create_app
from ingest.context import RECEIVER
from waitpoint import Job

from ..conftest import wait_until
from ..waitpoint.test_failover import terminate_in_a_loop
from .test_limits import CONFIG

ANSWER_WITHIN = 30.0
"""Seconds a request may take through the failover before it counts as unanswered: a
generous bound (commit_timeout is 10 s, three attempts), never a measurement."""


async def test_every_delivery_is_answered_and_stored_once_through_a_failover(
        start_waitpoint, aiohttp_client, database_url):
    wp = await start_waitpoint(queues={}, peer=False)
    jobs = await wp.enqueue_many([Job(worker="tests.Waiting", state="suspended")
                                  for _ in range(40)], ids_only=True)
    config = routing.parse_config(CONFIG, "failover.yaml", {})
    app = create_app(config, wp)
    client = await aiohttp_client(app)
    statuses: Counter[int] = Counter()
    unanswered: list[str] = []
    deliveries = [json.dumps({"job": job_id, "n": n}) for n in range(25) for job_id in jobs]
    retry: list[str] = []

    async def post(body: str) -> int:
        try:
            async with asyncio.timeout(ANSWER_WITHIN):
                response = await client.post("/open", data=body,
                                             headers={"content-type": "application/json"})
                await response.read()
                return response.status
        except TimeoutError:
            unanswered.append(body)
            return 0

    async def deliver_while_failing() -> None:
        queue = list(deliveries)
        while queue:
            batch, queue = queue[:20], queue[20:]
            for body, status in zip(batch, await asyncio.gather(*map(post, batch)),
                                    strict=True):
                statuses[status] += 1
                if status != 200:
                    retry.append(body)

    terminated = await terminate_in_a_loop(database_url, 5.0, deliver_while_failing)
    ended = time.monotonic()
    assert unanswered == []
    assert set(statuses) <= {200, 503} and statuses[503] > 0, statuses
    await wait_until(lambda: _idle(app), timeout=10, message="every in-flight slot back")

    # The provider retries what got a 503; the receiver is back within seconds.
    async def retried() -> bool:
        still = [body for body in retry if await post(body) != 200]
        retry[:] = still
        return not still

    await wait_until(retried, timeout=30, interval=0.2, message="the retries to be stored")
    recovered = time.monotonic() - ended
    stored = await wp.pool.fetchval(f"SELECT count(*) FROM {wp.schema}.events")
    assert stored == len(deliveries)  # each once: a retry of a stored one is a duplicate
    per_job = dict(await wp.pool.fetch(
        f"SELECT job_id, count(*) FROM {wp.schema}.signals GROUP BY job_id"))
    print(f"\nreceiver failover: {terminated} backends terminated; {len(deliveries)} sent, "
          f"{sum(statuses.values())} answered ({statuses[200]} x 200, {statuses[503]} x 503), "
          f"{len(unanswered)} unanswered; after retries {stored} stored, "
          f"{sum(per_job.values())} signals; all stored {recovered:.1f} s after the loop")
    assert per_job == {job_id: 25 for job_id in jobs}  # nothing lost, nothing twice


async def _idle(app) -> bool:
    return app[RECEIVER].in_flight == 0
