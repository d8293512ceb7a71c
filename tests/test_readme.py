"""The README's commands, run as written from this checkout: the walkthrough against a
live `waitpoint up`, the offline commands as they stand, and every command and option of
the command-line synopsis checked against the real command tree."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import click
import pytest

from waitpoint.cli import build_cli

from .conftest import wait_until

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SH_BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
VENV_BIN = str(Path(sys.executable).parent)


def commands(block: str) -> list[str]:
    """The commands of a shell block: comments dropped, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def block_with(text: str) -> list[str]:
    (block,) = [b for b in SH_BLOCKS if text in b]
    return commands(block)


def run(command: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", **(env or {})}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_the_route_example_runs_as_written():
    (command,) = block_with("waitpoint route examples/shop")
    result = run(command)
    assert result.returncode == 0, result.stderr
    assert '"key": "order:1001"' in result.stdout


def test_the_record_example_runs_as_written(tmp_path):
    (command,) = block_with("STRIPE_WEBHOOK_SECRET=whsec_test_secret waitpoint record")
    shop = tmp_path / "shop"
    subprocess.run(["cp", "-r", str(ROOT / "examples" / "shop"), str(shop)], check=True)
    (shop / "tests" / "recordings" / "payment_succeeded.json").unlink()
    result = run(command, cwd=shop)
    assert result.returncode == 0, result.stderr
    assert (shop / "tests" / "recordings" / "payment_succeeded.json").exists()


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def test_the_walkthrough_runs_as_written(database_url):
    """./scripts/run's receiver and workers, then the README's commands from a second
    shell, on a fresh default schema (job 1) of the test database."""
    if not (_free(8080) and _free(8081)):
        pytest.skip("port 8080 or 8081 is taken on this machine; the walkthrough needs both")
    conn = await asyncpg.connect(database_url)
    await conn.execute("DROP SCHEMA IF EXISTS waitpoint CASCADE")
    await conn.close()
    env = {"DATABASE_URL": database_url}
    script = (ROOT / "scripts" / "run").read_text()
    up = re.search(r"exec \.venv/bin/(waitpoint up .*?)\"\$@\"", script, flags=re.S)
    assert up is not None
    server = subprocess.Popen(
        ["bash", "-c", "exec " + up[1].replace("\\\n", " ")], cwd=ROOT,
        env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async def ready() -> bool:
            result = await asyncio.to_thread(
                run, "curl -sf localhost:8080/readyz", ROOT, env)
            return result.returncode == 0

        await wait_until(ready, timeout=60, message="waitpoint up to be ready")
        enqueue, jobs, post, jobs_again = block_with("python -m examples.approvals")
        assert "job 1" in run(enqueue, env=env).stdout
        listing = run(jobs, env=env).stdout
        assert re.search(r"\b1\s+(executing|scheduled)\b", listing), listing
        answer = run(post, env=env).stdout
        assert '"outcome":"routed"' in answer, answer

        async def completed() -> bool:
            listing = await asyncio.to_thread(run, jobs_again, ROOT, env)
            return re.search(r"\b1\s+completed\b", listing.stdout) is not None

        await wait_until(completed, timeout=30, message="job 1 to complete")
        # The console the README promises at 8081 shows the delivery and the job.
        deliveries = run("curl -sf localhost:8081/deliveries", env=env).stdout
        assert 'href="/deliveries/1"' in deliveries, deliveries[:500]
        job = run("curl -sf localhost:8081/jobs/1", env=env).stdout
        assert "completed" in job and 'href="/deliveries/1"' in job
    finally:
        server.terminate()
        server.wait(30)


def _synopsis_lines() -> list[str]:
    block = next(b for b in SH_BLOCKS if "waitpoint migrate [--database-url" in b)
    replay = next(b for b in SH_BLOCKS if "waitpoint replay tests/recordings/" in b)
    return [line for line in commands(block) + commands(replay) if line.startswith("waitpoint")]


@pytest.mark.parametrize("line", _synopsis_lines())
def test_every_command_and_option_in_the_synopsis_exists(line):
    words = shlex.split(re.sub(r"[\[\]()|]", " ", line))[1:]
    cli = build_cli()
    command: click.Command = cli
    context = click.Context(cli)
    while isinstance(command, click.Group) and words and words[0] in command.commands:
        command = command.get_command(context, words.pop(0))
    assert not isinstance(command, click.Group), line
    options = {name for param in command.params
               for name in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{word} in {line!r}"


def test_the_testing_helpers_file_runs_as_written(tmp_path, database_url):
    """The README's complete test file for waitpoint.testing, run by pytest as a user's
    project would (the plugin's fixtures come from the installed package)."""
    block = next(b for b in PYTHON_BLOCKS if "from waitpoint.testing import" in b)
    (tmp_path / "test_readme_workers.py").write_text(block)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o",
         "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function",
         str(tmp_path / "test_readme_workers.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "DATABASE_URL": database_url})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3 passed" in result.stdout
