"""Through a real PgBouncer in transaction mode: the application's pools go through the
pooler; LISTEN and migrations go to PostgreSQL directly (they need a session).

Needs the `pgbouncer` binary (Debian's package) and a DATABASE_URL over TCP;
`scripts/pgbouncer-check` installs the first, uses the second, and runs this file.
Otherwise the pooler test is skipped, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

import routing
from ingest.app import create_app
from ingest.console import ConsoleAccess, create_console_app
from waitpoint import Waitpoint

from .conftest import wait_for_state, wait_until
from .ports import free_port
from .waitpoint.workers import Complete, SoloWaiter

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)

pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer is not installed "
                                "(scripts/pgbouncer-check installs it and runs this file)")


@pytest.fixture
def pooled_url(database_url: str, tmp_path: Path):
    """A PgBouncer in transaction mode in front of the test database; its URL."""
    target = urlsplit(database_url)
    if not target.hostname:
        pytest.skip("the database is reached through a unix socket (the embedded server), "
                    "which PgBouncer, running as another user, cannot open: run "
                    "scripts/pgbouncer-check (DATABASE_URL over TCP)")
    port = free_port()
    folder = tmp_path / "pgbouncer"
    folder.mkdir()
    (folder / "users.txt").write_text(f'"{target.username or "postgres"}" ""\n')
    (folder / "pgbouncer.ini").write_text(textwrap.dedent(f"""\
        [databases]
        * = host={target.hostname} port={target.port or 5432}
        [pgbouncer]
        listen_addr = 127.0.0.1
        listen_port = {port}
        auth_type = trust
        auth_file = {folder / "users.txt"}
        pool_mode = transaction
        default_pool_size = 10
        max_client_conn = 200
        ignore_startup_parameters = extra_float_digits
        unix_socket_dir =
        """))
    os.chmod(tmp_path, 0o755)
    for path in (folder, *folder.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    user = target.username or "postgres"
    url = urlunsplit(target._replace(netloc=f"{user}@127.0.0.1:{port}"))
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {process.stderr.read()!r}") from None
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


async def test_ingest_signals_and_workers_through_a_transaction_pooler(
        pooled_url, database_url, schema, aiohttp_client):
    conn = await asyncpg.connect(pooled_url, statement_cache_size=0)
    try:
        assert await conn.fetchval("SHOW port") != urlsplit(pooled_url).port  # a pooler
    finally:
        await conn.close()
    wp = Waitpoint(pooled_url, schema=schema, queues={"default": 5, "solo": 2},
                   pooler=True, listen_url=database_url, poll_interval=0.5,
                   leader_interval=0.2, stage_interval=0.05)
    async with wp:
        # Workers: claims, outcomes and snoozes go through the pooler.
        jobs = await wp.enqueue_many([Complete.new({"value": n}) for n in range(40)])
        for job in jobs:
            await wait_for_state(wp, job.id, "completed", timeout=20)
        # A live wait woken through LISTEN (direct), its signal sent through the pooler.
        live = await wp.enqueue(SoloWaiter.new({"wait_timeout": 10}))
        await wait_for_state(wp, live.id, "executing")
        assert await wp.signal(live.id, "live") == [live.id]
        assert (await wait_for_state(wp, live.id, "completed")).recorded == "live"
        # Ingest: a webhook wakes a snoozed job.
        waiting = await wp.enqueue(SoloWaiter.new({"wait_timeout": 0}))
        await wait_for_state(wp, waiting.id, "suspended")
        config = routing.parse_config(textwrap.dedent("""\
            version: 1
            sources:
              demo:
                path: /demo/{job}
                verify: {scheme: none, insecure: true}
                delivery_id: "'d-' + params.job"
                routes:
                  - signal: {job: params.job, payload: body}
            """), "pooled.yaml", {})
        client = await aiohttp_client(create_app(config, wp))
        answer = await client.post(f"/demo/{waiting.id}", json={"decision": "approved"})
        assert answer.status == 200, await answer.text()
        done = await wait_for_state(wp, waiting.id, "completed")
        assert done.recorded == {"decision": "approved"}
        # The console's pages and a source pause, through the pooler too.
        console = await aiohttp_client(create_console_app(
            config, wp, ConsoleAccess(host="127.0.0.1")))
        for path in ("/", "/deliveries", f"/jobs/{waiting.id}", "/waiting", "/sources"):
            page = await console.get(path)
            assert page.status == 200, (path, await page.text())
        token = re.search(r'name="csrf" value="(\w+)"', await page.text())[1]
        await console.post("/sources/demo/pause", data={"csrf": token})

        async def refused():
            return (await client.post("/demo/1", json={})).status == 503

        await wait_until(refused, timeout=10)


def test_a_pooler_without_a_direct_url_is_refused():
    with pytest.raises(ValueError, match="listen_url"):
        Waitpoint("postgresql://x@127.0.0.1:6432/db", pooler=True)
