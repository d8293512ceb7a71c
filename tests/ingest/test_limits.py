"""Slow, idle and too many clients, and a frozen database: the receiver sheds them with a
clear answer and stays ready. Real sockets against `serve()`, a real frozen connection."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap

import aiohttp
import pytest

import routing
from ingest.context import ReceiverLimits
from ingest.inbox import Inbox, InboxFull
from ingest.receiver_sql import InboxQuery
from ingest.server import serve
from waitpoint import Job

from ..ports import free_port
from ..proxy import PostgresProxy

CONFIG = textwrap.dedent("""\
    version: 1
    sources:
      open:
        path: /open
        verify: {scheme: none, insecure: true}
        routes:
          - signal: {job: body.job}
    """)



@pytest.fixture
async def server(start_waitpoint):
    """Start `serve()` with the given limits on a free port; stopped at the end."""
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(limits: ReceiverLimits, waitpoint=None, record_dir=None) -> int:
        wp = waitpoint or await start_waitpoint(queues={}, peer=False)
        config = routing.parse_config(CONFIG, "limits.yaml", {})
        port, stop = free_port(), asyncio.Event()
        task = asyncio.create_task(serve(config, wp, "127.0.0.1", port, stop, limits=limits,
                                         record_dir=record_dir))
        stops.append((stop, task))
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return port
            await asyncio.sleep(0.02)
        raise AssertionError("the server did not start")

    yield start
    for stop, task in stops:
        stop.set()
        await task


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (a deadline, not a
    measurement: before the limits, these connections stayed open for minutes)."""
    return await asyncio.wait_for(reader.read(), timeout)


async def test_slow_headers_and_idle_connections_are_closed(server):
    port = await server(ReceiverLimits(keepalive_timeout=0.5))
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
    slow_writer.write(b"POST /open HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        with contextlib.suppress(OSError):
            for _ in range(100):
                slow_writer.write(b"X-Slow: y\r\n")
                await slow_writer.drain()
                await asyncio.sleep(0.1)

    trickling = asyncio.create_task(trickle())
    try:
        assert await closed_by_server(slow_reader) == b""
        for reader, _ in idle:
            assert await closed_by_server(reader) == b""
    finally:
        trickling.cancel()


async def test_a_slow_body_is_a_408(server):
    port = await server(ReceiverLimits(body_timeout=0.5))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 408"), status
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    assert b"body_timeout" in await asyncio.wait_for(reader.readexactly(length), 10)
    writer.close()


async def test_connections_past_the_cap_are_closed_and_readyz_still_answers(server):
    port = await server(ReceiverLimits(max_connections=5, keepalive_timeout=30))
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
    extra_reader, _ = await asyncio.open_connection("127.0.0.1", port)
    assert await closed_by_server(extra_reader) == b""  # refused on accept
    for _, writer in held:
        writer.close()
    async with aiohttp.ClientSession() as session:
        for _ in range(100):  # the held connections are being closed
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                    assert response.status == 200
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("/readyz never answered")


async def test_one_client_cannot_take_every_connection(server):
    """Idle connections from one address stop at max_connections_per_client; another
    address (127.0.0.2: the whole of 127/8 is the loopback) still gets through."""
    port = await server(ReceiverLimits(max_connections=10, max_connections_per_client=3,
                                       keepalive_timeout=30))
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    extra_reader, _ = await asyncio.open_connection("127.0.0.1", port)
    assert await closed_by_server(extra_reader) == b""  # refused on accept
    reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                   local_addr=("127.0.0.2", 0))
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    for _, held_writer in held:
        held_writer.close()


async def test_past_max_in_flight_a_request_is_a_503_before_its_body(server):
    port = await server(ReceiverLimits(max_in_flight=1, body_timeout=30))
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")  # in flight
    await writer.drain()
    async with aiohttp.ClientSession() as session:
        for _ in range(100):
            async with session.post(f"http://127.0.0.1:{port}/open", json={"job": 1}) as reply:
                if reply.status == 503:
                    assert reply.headers["Retry-After"] == "1"
                    assert (await reply.json())["error"] == "overloaded"
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("never shed")
        async with session.get(f"http://127.0.0.1:{port}/readyz") as ready:
            assert ready.status == 200  # operations are never shed
    writer.close()


async def test_recording_refused_requests_holds_no_slot_and_fills_no_disk(server, tmp_path):
    """`serve --record`: a declared oversize body is refused at once and recorded without
    its body (the recorder reads nothing itself); rejected requests are recorded at most
    REJECTED_PER_MINUTE a minute."""
    from ingest.recording_file import load_recording
    from ingest.request_recorder import REJECTED_PER_MINUTE

    port = await server(ReceiverLimits(max_in_flight=1, body_timeout=30), record_dir=tmp_path)

    async def declare_oversize() -> tuple[bytes, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n{")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return head.split(b"\r\n")[0], writer

    status, held = await declare_oversize()
    assert b" 413 " in status
    # Its slot is free although its client still holds the socket: not overloaded.
    async with aiohttp.ClientSession() as session, \
            session.post(f"http://127.0.0.1:{port}/open", json={"job": 1}) as reply:
        assert reply.status == 200
    for _ in range(REJECTED_PER_MINUTE + 20):
        status, writer = await declare_oversize()
        assert b" 413 " in status
        writer.close()
    held.close()
    files = sorted(tmp_path.glob("*.json"))
    # One accepted, and the rejected within their budget (the minute may turn meanwhile).
    assert len(files) <= 1 + REJECTED_PER_MINUTE + 1
    oversize = load_recording(files[0])
    assert oversize.response.status == 413 and oversize.raw_body == b""
    assert "before its body was read" in oversize.note


async def test_a_full_inbox_sheds_instead_of_growing(start_waitpoint):
    wp = await start_waitpoint(queues={}, peer=False)
    inbox = Inbox(wp.pool, InboxQuery(wp.schema), max_pending=2)  # its writer not started
    from ingest.events import EventRecord

    waiting = [asyncio.create_task(inbox.submit(EventRecord("s", f"d{n}", b"", "unrouted")))
               for n in range(2)]
    await asyncio.sleep(0)  # let both join the queue
    with pytest.raises(InboxFull):
        await inbox.submit(EventRecord("s", "d3", b"", "unrouted"))
    await inbox.stop()
    for task in waiting:
        with contextlib.suppress(Exception):
            await task


async def test_a_frozen_database_is_a_quick_503_and_readyz_answers(server, start_waitpoint,
                                                                   database_url):
    proxy = PostgresProxy(database_url)
    await proxy.start()
    wp = await start_waitpoint(database_url=proxy.url, queues={}, peer=False)
    (job,) = await wp.enqueue_many([Job(worker="tests.Frozen", state="suspended")])
    port = await server(ReceiverLimits(commit_timeout=1.0), waitpoint=wp)
    proxy.freeze()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/open",
                                    json={"job": job.id, "n": 1},
                                    timeout=aiohttp.ClientTimeout(total=15)) as reply:
                assert reply.status == 503 and reply.headers["Retry-After"] == "5"
            async with session.get(f"http://127.0.0.1:{port}/readyz",
                                   timeout=aiohttp.ClientTimeout(total=15)) as ready:
                assert ready.status == 503
            proxy.thaw()
            for _ in range(200):  # the provider's retry, once the database answers again
                async with session.post(f"http://127.0.0.1:{port}/open",
                                        json={"job": job.id, "n": 1}) as reply:
                    if reply.status == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("never recovered")
    finally:
        proxy.thaw()
        await proxy.cut()
