"""`waitpoint serve --record DIR`: every request to a source, as a recording file.

Rejected requests are recorded too, with the reason. Files are written in a thread, so the
event loop never waits on the disk; the request waits only for its own file.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import structlog
from aiohttp import web

from .recording_file import Outcome, Recording

log = structlog.get_logger("ingest.request_recorder")


class Recorder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)
        log.warning("recorder.on", directory=str(directory),
                    hint="recordings contain live signatures and bodies: keep them private")

    async def record(self, request: web.Request, source: str, status: int,
                     outcome: str | None, body: bytes | None = None) -> None:
        """Write one request; `body` replaces the raw one when secret fields were redacted
        (a request refused before that point is recorded as received)."""
        if body is None:
            try:
                body = await request.read() if request.body_exists else b""
            except web.HTTPRequestEntityTooLarge:
                body = b""
        recording = Recording.of_request(
            source, request.method, request.path, dict(request.query), dict(request.headers),
            body, response=Outcome(status=status, outcome=outcome))
        name = (f"{recording.received_at:%Y%m%dT%H%M%S%f}-{source}-{next(self._counter):06d}"
                ".json")
        await asyncio.to_thread((self.directory / name).write_text, recording.dumps(),
                                "utf-8")
