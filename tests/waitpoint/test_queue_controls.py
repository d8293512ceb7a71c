"""Queue controls at run time, across nodes, through the database and NOTIFY."""

from __future__ import annotations

import asyncio
import json

from waitpoint import Waitpoint

from ..conftest import wait_for_state, wait_until
from .test_cli import waitpoint_cli
from .workers import Complete


async def _told(producer, *, paused: bool | None = None, limit: int | None = None) -> bool:
    return ((paused is None or producer.paused == paused)
            and (limit is None or producer.limit == limit))


async def _looked_again(producer, since: int) -> bool:
    """The producer ran its loop twice since `since`: it had its chance to claim."""
    return producer.wakes >= since + 2


async def test_a_paused_queue_is_fetched_by_no_node_until_resumed(start_waitpoint):
    nodes = [await start_waitpoint(queues={"default": 5}, node=name) for name in ("a", "b")]
    await nodes[0].pause_queue("default")
    producers = [node.producers["default"] for node in nodes]
    for producer in producers:
        await wait_until(lambda p=producer: _told(p, paused=True), message="paused")
    marks = [producer.wakes for producer in producers]
    job = await nodes[1].enqueue(Complete.new({"value": 1}))  # NOTIFY wakes both
    for producer, mark in zip(producers, marks, strict=True):
        await wait_until(lambda p=producer, m=mark: _looked_again(p, m),
                         message="the producer to look")
    assert (await nodes[0].get_job(job.id)).state == "available"
    await nodes[1].resume_queue("default")
    await wait_for_state(nodes[0], job.id, "completed")


async def test_one_node_paused_the_other_runs_and_a_restart_stays_paused(start_waitpoint):
    a = await start_waitpoint(queues={"default": 5}, node="a")
    await a.pause_queue("default", node="a")
    await wait_until(lambda: _told(a.producers["default"], paused=True), message="a paused")
    b = await start_waitpoint(queues={"default": 5}, node="b")
    assert not b.producers["default"].paused
    job = await a.enqueue(Complete.new({"value": 2}))
    done = await wait_for_state(a, job.id, "completed")
    assert done.attempted_by[0] == "b"
    await a.stop()
    restarted = await start_waitpoint(queues={"default": 5}, node="a")
    assert restarted.producers["default"].paused  # read from the database at start
    # Resuming every node clears what was set for one node.
    await b.resume_queue("default")
    await wait_until(lambda: _told(restarted.producers["default"], paused=False),
                     message="a resumed")


async def test_scale_reaches_every_node_and_queues_lists_them(start_waitpoint, database_url):
    nodes = [await start_waitpoint(queues={"default": 5}, node=name,
                                   heartbeat_interval=0.1) for name in ("a", "b")]
    await nodes[0].scale_queue("default", 12)
    for node in nodes:
        await wait_until(lambda n=node: _told(n.producers["default"], limit=12),
                         message="scaled")
    await nodes[0].scale_queue("default", 3, node="b")
    await wait_until(lambda: _told(nodes[1].producers["default"], limit=3), message="b at 3")
    assert nodes[0].producers["default"].limit == 12

    async def listed() -> list:
        views = await nodes[0].list_queues()
        return views if sorted((v.node, v.limit) for v in views) == [("a", 12), ("b", 3)] \
            else []

    await wait_until(listed, message="both nodes listed with their limits")
    shown = waitpoint_cli("queues", "--json", "--schema", nodes[0].schema,
                          database_url=database_url)
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert {(r["node"], r["limit"], r["paused"]) for r in rows} == {("a", 12, False),
                                                                      ("b", 3, False)}
    paused = waitpoint_cli("queue", "pause", "default", "--node", "a", "--schema",
                           nodes[0].schema, database_url=database_url)
    assert paused.returncode == 0 and "queue default paused on node a" in paused.stdout
    await wait_until(lambda: _told(nodes[0].producers["default"], paused=True),
                     message="paused from the CLI")
    scale = waitpoint_cli("queue", "scale", "default", "0", "--schema", nodes[0].schema,
                          database_url=database_url)
    assert scale.returncode == 2


async def test_a_paused_queue_still_commits_the_outcomes_of_its_running_jobs(wp: Waitpoint):
    from .workers import Gated, gates, seen

    job = await Gated.enqueue({})
    await wait_until(lambda: _seen_started(seen, job.id), message="the job to start")
    await wp.pause_queue("default")
    await wait_until(lambda: _told(wp.producers["default"], paused=True), message="paused")
    gates.setdefault(job.id, asyncio.Event()).set()
    await wait_for_state(wp, job.id, "completed")


async def _seen_started(seen, job_id: int) -> bool:
    return "started" in seen[job_id]
