"""The waitpoint command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from waitpoint import Waitpoint
from waitpoint.schema import available_migrations, installed_tracks

from ..conftest import wait_for_state, wait_until
from .workers import Complete, SoloWaiter

ROOT = Path(__file__).resolve().parents[2]


def waitpoint_cli(*args: str, database_url: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "waitpoint", *args, "--database-url", database_url],
        cwd=ROOT, capture_output=True, text=True, timeout=60, **kwargs)


def test_migrate_command(database_url):
    schema = f"c_{uuid.uuid4().hex[:10]}"
    first = waitpoint_cli("migrate", "--schema", schema, database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert f"applied {len(available_migrations(installed_tracks()))} migration(s)" in first.stdout
    again = waitpoint_cli("migrate", "--schema", schema, database_url=database_url)
    assert "applied 0 migration(s)" in again.stdout


async def test_jobs_and_signal_commands(wp: Waitpoint, database_url):
    job = await SoloWaiter.enqueue({"wait_timeout": 0})
    await wait_for_state(wp, job.id, "suspended")
    listing = waitpoint_cli("jobs", "--schema", wp.schema, "--state", "suspended", "--json",
                            database_url=database_url)
    assert [json.loads(line)["id"] for line in listing.stdout.splitlines()] == [job.id]
    assert listing.stderr == ""  # read-only commands log only warnings (-v for more)
    sent = waitpoint_cli("signal", str(job.id), "--payload", '{"decision": "approved"}',
                         "--schema", wp.schema, database_url=database_url)
    assert sent.returncode == 0 and f"reached 1 job(s): {job.id}" in sent.stdout, sent.stderr
    done = await wait_for_state(wp, job.id, "completed")
    assert done.recorded == {"decision": "approved"}
    (line,) = waitpoint_cli("jobs", "--schema", wp.schema, "--json",
                            database_url=database_url).stdout.splitlines()
    shown = json.loads(line)["meta"]  # payloads as the job saw them, not base64 erlpack
    assert shown["recorded"] == {"decision": "approved"}
    assert shown["signals"]["1"]["payload"] == {"decision": "approved"}
    keyed = waitpoint_cli("signal", "--key", "order:5", "--payload", "1", "--schema", wp.schema,
                          database_url=database_url)
    assert "kept for the first" in keyed.stdout


def test_signal_command_says_what_it_needs(database_url, schema):
    neither = waitpoint_cli("signal", "--payload", "{}", "--schema", schema,
                            database_url=database_url)
    assert neither.returncode == 2 and "give the JOB_IDS to signal, or --key KEY" in neither.stderr
    both = waitpoint_cli("signal", "1", "--key", "k", "--schema", schema,
                         database_url=database_url)
    assert both.returncode == 2 and "not both" in both.stderr


def test_signal_command_refuses_a_deep_payload_in_one_line(database_url, schema):
    deep = "[" * 5000 + "]" * 5000
    result = waitpoint_cli("signal", "1", "--payload", deep, "--schema", schema,
                           database_url=database_url)
    assert result.returncode == 2 and "nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr
    nested = "[" * 200 + "]" * 200
    result = waitpoint_cli("signal", "1", "--payload", nested, "--schema", schema,
                           database_url=database_url)
    assert result.returncode == 1 and "nested deeper than 64" in result.stderr
    assert "Traceback" not in result.stderr


def test_signal_command_rejects_bad_json(database_url, schema):
    result = waitpoint_cli("signal", "1", "--payload", "{nope", "--schema", schema,
                           database_url=database_url)
    assert result.returncode != 0 and "--payload" in result.stderr


async def test_work_command_runs_jobs_and_stops_gracefully(start_waitpoint, database_url, schema):
    inserter = await start_waitpoint(queues={})
    job = await Complete.enqueue({})
    worker = subprocess.Popen(
        [sys.executable, "-m", "waitpoint.cli", "work", "--import", "tests.waitpoint.workers",
         "--queues", "default=5", "--schema", schema, "--database-url", database_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ})
    try:
        await wait_for_state(inserter, job.id, "completed", timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "job.completed" in events and events[-1] == "waitpoint.stopped"
    await wait_until(lambda: _no_producers(inserter))


async def _no_producers(wp: Waitpoint) -> bool:
    return await wp.pool.fetchval(f"SELECT count(*) = 0 FROM {wp.schema}.producers")


async def test_workflow_status_command(wp: Waitpoint, database_url):
    from waitpoint import Workflow

    from .workers import Voter

    workflow = Workflow(name="nightly").add("wait", Voter.new({}))
    (job,) = await wp.enqueue_many(workflow)
    await wait_for_state(wp, job.id, "suspended")
    result = waitpoint_cli("workflow", "status", str(workflow.id), "--schema", wp.schema,
                           database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("nightly: waiting  total=1  suspended=1")
    as_json = waitpoint_cli("workflow", "status", str(workflow.id), "--json", "--schema",
                            wp.schema, database_url=database_url)
    assert json.loads(as_json.stdout)["counts"]["suspended"] == 1
    missing = waitpoint_cli("workflow", "status", "999", "--schema", wp.schema,
                            database_url=database_url)
    assert missing.returncode == 1 and "no workflow 999" in missing.stderr


def test_an_unreachable_database_is_a_one_line_error_without_the_password():
    result = subprocess.run(
        [sys.executable, "-m", "waitpoint.cli", "jobs", "--database-url",
         "postgresql://postgres:hunter2@127.0.0.1:1/nothing"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot use the database" in result.stderr and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr
    assert "unset" not in result.stderr  # a URL was given: never say there was none


def test_a_schema_without_migrations_says_to_migrate(database_url):
    result = waitpoint_cli("jobs", "--schema", f"unmigrated_{uuid.uuid4().hex[:8]}",
                           database_url=database_url)
    assert result.returncode == 1 and "waitpoint migrate" in result.stderr


async def test_named_signals_and_workflow_broadcasts_from_the_command_line(
        wp: Waitpoint, database_url):
    from waitpoint import Workflow

    from .workers import NamedInTurn, Reviewer

    job = await NamedInTurn.enqueue({"names": ["payment"]})
    await wait_for_state(wp, job.id, "suspended")
    sent = waitpoint_cli("signal", str(job.id), "--name", "payment", "--payload", "42",
                         "--schema", wp.schema, database_url=database_url)
    assert sent.returncode == 0 and f"reached 1 job(s): {job.id}" in sent.stdout, sent.stderr
    assert (await wait_for_state(wp, job.id, "completed")).recorded == [["payment", 42]]

    workflow = Workflow().add("review", Reviewer.new({}))
    (step,) = await wp.enqueue_many(workflow)
    await wait_for_state(wp, step.id, "suspended")
    set_ = waitpoint_cli("workflow", "broadcast", str(workflow.id), "approved", "--payload",
                         '{"by": "cli"}', "--schema", wp.schema, database_url=database_url)
    assert set_.returncode == 0 and f"on 1 workflow(s): {workflow.id}" in set_.stdout
    assert (await wait_for_state(wp, step.id, "completed")).recorded == {"by": "cli"}
    status = waitpoint_cli("workflow", "status", str(workflow.id), "--json", "--schema",
                           wp.schema, database_url=database_url)
    assert "approved" in json.loads(status.stdout)["signals"]
    missing = waitpoint_cli("workflow", "broadcast", "999999", "approved", "--schema",
                            wp.schema, database_url=database_url)
    assert missing.returncode == 1 and "no workflow 999999" in missing.stderr


async def test_stats_lists_every_table_with_rows_size_and_oldest_row(wp: Waitpoint,
                                                                     database_url):
    job = await Complete.enqueue({"value": 1})
    await wait_for_state(wp, job.id, "completed")
    await wp.pool.execute(f"ANALYZE {wp.schema}.jobs")
    shown = waitpoint_cli("stats", "--json", "--schema", wp.schema, database_url=database_url)
    assert shown.returncode == 0, shown.stderr
    tables = {row["table"]: row for row in map(json.loads, shown.stdout.splitlines())}
    assert {"jobs", "signals", "events", "workflows", "cron_slots"} <= set(tables)
    assert tables["jobs"]["rows"] >= 1 and tables["jobs"]["bytes"] > 0
    assert tables["jobs"]["oldest"] is not None
    assert tables["events"]["oldest"] is None  # empty
    text = waitpoint_cli("stats", "--schema", wp.schema, database_url=database_url)
    assert "rows (est.)" in text.stdout and "jobs" in text.stdout
