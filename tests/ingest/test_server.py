"""`waitpoint serve --workers N` and `waitpoint up`, run as processes, driven over HTTP."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import psutil

from examples.approvals import ApprovalWorker

from ..conftest import wait_for_state, wait_until
from ..ports import free_port

ROOT = Path(__file__).resolve().parents[2]


async def healthy(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{port}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "waitpoint", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "STRIPE_WEBHOOK_SECRET": "x" * 32})


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return stderr.decode()


async def test_up_receives_and_works_in_one_process(start_waitpoint, database_url, schema):
    inserter = await start_waitpoint(queues={})
    job = await ApprovalWorker.enqueue({"user_id": 5})
    port = free_port()
    process = start("up", "--config", "config/example.yaml", "--import", "examples.approvals",
                    "--queues", "approvals=2", "--database-url", database_url,
                    "--schema", schema, "--port", str(port))
    try:
        await wait_until(lambda: healthy(port), timeout=30, message="the server to be ready")
        await wait_for_state(inserter, job.id, "scheduled", timeout=30)  # snoozed, waiting
        async with aiohttp.ClientSession() as session, \
                session.post(f"http://127.0.0.1:{port}/demo/approvals/{job.id}",
                             json={"decision": "approved"}) as response:
            assert response.status == 200
            assert (await response.json())["outcome"] == "routed"
        done = await wait_for_state(inserter, job.id, "completed", timeout=30)
        assert done.recorded == "charge-5"
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr


async def serve_two_processes(database_url: str, schema: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = start("serve", "--config", "config/example.yaml", "--database-url", database_url,
                    "--schema", schema, "--port", str(port), "--workers", "2")
    await wait_until(lambda: healthy(port), timeout=30, message="the servers to be ready")
    return process, port


async def test_serve_runs_n_processes_on_one_port(start_waitpoint, database_url, schema):
    await start_waitpoint(queues={})
    process, port = await serve_two_processes(database_url, schema)
    try:
        children = psutil.Process(process.pid).children()
        assert len(children) == 2
        async with aiohttp.ClientSession() as session:
            for n in range(20):
                async with session.post(f"http://127.0.0.1:{port}/demo/approvals/{n + 1}",
                                        json={"decision": "approved"}) as response:
                    assert response.status == 200
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr
    assert not any(child.is_running() for child in children)


async def test_serve_starts_again_a_process_that_dies(start_waitpoint, database_url, schema):
    await start_waitpoint(queues={})
    process, port = await serve_two_processes(database_url, schema)
    try:
        first = {child.pid for child in psutil.Process(process.pid).children()}
        victim = psutil.Process(min(first))
        victim.kill()  # as the kernel's OOM killer would
        victim.wait(timeout=10)

        async def replaced() -> set[int]:
            now = {c.pid for c in psutil.Process(process.pid).children() if c.is_running()}
            return now if len(now) == 2 and now != first else set()

        now = await wait_until(replaced, timeout=30, message="a new receiver process")
        assert victim.pid not in now
        await wait_until(lambda: healthy(port), timeout=30, message="the servers to be ready")
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr
    assert "serve.process_died" in stderr and "serve.process_restarted" in stderr


async def test_waitpoint_console_serves_with_a_password_and_read_only(start_waitpoint,
                                                                      database_url, schema):
    await start_waitpoint(queues={})  # migrated
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "waitpoint", "console", "--config", "config/example.yaml",
         "--database-url", database_url, "--schema", schema, "--host", "0.0.0.0",
         "--port", str(port), "--read-only"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "WAITPOINT_CONSOLE_PASSWORD": "s3cret"})
    url = f"http://127.0.0.1:{port}"

    async def status(path: str, **options) -> int:
        try:
            async with aiohttp.ClientSession() as session, \
                    session.request(options.pop("method", "GET"), url + path,
                                    **options) as response:
                return response.status
        except aiohttp.ClientError:
            return 0

    try:
        await wait_until(lambda: _is(status("/"), 401), timeout=30, message="the console")
        auth = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
        assert await status("/sources", headers=auth) == 200
        assert await status("/sources/demo/pause", method="POST", headers=auth) == 403
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr


async def _is(status, wanted: int) -> bool:
    return await status == wanted


def test_the_console_refuses_an_exposed_address_without_a_password_and_the_webhook_port():
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAITPOINT_CONSOLE")}
    exposed = subprocess.run(
        [sys.executable, "-m", "waitpoint", "console", "--config", "config/example.yaml",
         "--host", "0.0.0.0"], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert exposed.returncode == 2 and "WAITPOINT_CONSOLE_PASSWORD" in exposed.stderr
    same_port = subprocess.run(
        [sys.executable, "-m", "waitpoint", "up", "--config", "config/example.yaml",
         "--port", "8090", "--console-port", "8090"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert same_port.returncode == 2 and "not the webhook port" in same_port.stderr


def test_a_busy_console_port_is_named_as_such_not_as_a_database_error(database_url, schema):
    """`waitpoint up --console-port P` with P taken says the port is in use."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "waitpoint", "up", "--config", "config/example.yaml",
             "--database-url", database_url, "--schema", schema,
             "--import", "examples.approvals", "--port", str(free_port()),
             "--console-port", str(busy)],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "a port is in use" in result.stderr, result.stderr
    assert "cannot use the database" not in result.stderr
