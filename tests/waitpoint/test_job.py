"""Job validation (no database)."""

from datetime import timedelta

import pytest

from waitpoint import Job, JobState
from waitpoint._worker import resolve_worker, worker_name

from .workers import Complete


def test_defaults_follow_oban():
    job = Job(worker="a.B")
    assert (job.queue, job.max_attempts, job.priority, job.state) == (
        "default", 20, 0, JobState.AVAILABLE)
    assert len(JobState) == 8


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"worker": " "}, "worker"),
        ({"queue": ""}, "queue"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"priority": 10}, "priority"),
        ({"priority": -1}, "priority"),
        ({"state": "sleeping"}, "state"),
        ({"args": [1, 2]}, "args"),
    ],
)
def test_invalid_fields_raise_value_error_naming_the_field(fields, field_name):
    with pytest.raises(ValueError, match=f"^{field_name}:"):
        Job(**{"worker": "a.B", **fields})


def test_tags_are_trimmed_lowercased_deduplicated_and_sorted():
    assert Job(worker="a.B", tags=[" Zeta", "alpha ", "ALPHA", ""]).tags == ["alpha", "zeta"]


def test_schedule_in_makes_a_scheduled_job():
    job = Job(worker="a.B", schedule_in=timedelta(minutes=1))
    assert job.state is JobState.SCHEDULED and job.schedule_in == 60


def test_cannot_insert_an_executing_job():
    with pytest.raises(ValueError, match="state"):
        Job(worker="a.B", state="executing").check_insertable()


def test_worker_new_applies_defaults_and_overrides():
    job = Complete.new({"value": 1}, priority=3, tags=["X"])
    assert job.worker == worker_name(Complete) and job.priority == 3 and job.tags == ["x"]
    assert resolve_worker(job.worker) is Complete


def test_unknown_worker_lookup_is_a_lookup_error():
    with pytest.raises(LookupError):
        resolve_worker("no_such_module_xyz.Worker")


def test_a_worker_in_a_module_run_as_main_gets_its_import_name():
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, "-m", "tests.waitpoint.main_worker"],
                            cwd=Path(__file__).resolve().parents[2], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "tests.waitpoint.main_worker.RunAsMain"
