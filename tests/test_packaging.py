"""The distribution: one wheel carries the engine, routing and the receiver, with every
SQL file, and says where the receiver's commands and migrations are."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from waitpoint.schema import ENGINE_TRACK, installed_tracks

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_migrations(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("waitpoint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for track in (ENGINE_TRACK, *installed_tracks()):
        folder = f"{track.package}/{track.folder}/"
        shipped = sorted(n.removeprefix(folder) for n in names if n.startswith(folder))
        assert shipped == sorted(m.file.name for m in track.migrations())
    assert "waitpoint/queries/ack_and_fetch_jobs.sql" in names
    assert "ingest/queries/ingest_batch.sql" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[waitpoint.commands]\ningest = ingest.cli:COMMANDS" in declared
    assert "[waitpoint.migration_tracks]\ningest = ingest.receiver_sql:INGEST_TRACK" in declared
    assert "waitpoint = waitpoint.cli:main" in declared
