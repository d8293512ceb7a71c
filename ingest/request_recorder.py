"""`waitpoint serve --record DIR`: every request to a source, as a recording file.

Rejected requests are recorded too, with the reason, within bounds: anyone can send them,
unauthenticated, so they may not hold a slot or fill the disk. The recorder never reads a
body itself: it keeps what the handler read (under the body limit and deadline), and a
request refused before that (paused, overloaded, a declared oversize body) is recorded
without its body. Rejected recordings keep at most REJECTED_BODY_LIMIT bytes of body and
at most `rejected_per_minute` files a minute; the rest are counted and logged once a
minute. Files are written in a thread, so the event loop never waits on the disk; the
request waits only for its own file.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import structlog
from aiohttp import web

from .recording_file import Outcome, Recording

log = structlog.get_logger("ingest.recorder")

REJECTED_BODY_LIMIT = 64 * 1024
"""Bytes of body a rejected request's recording keeps."""
REJECTED_PER_MINUTE = 60
"""Rejected requests recorded per minute; more are only counted."""


class Recorder:
    def __init__(self, directory: Path, *, rejected_per_minute: int = REJECTED_PER_MINUTE
                 ) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)
        self._rejected_per_minute = rejected_per_minute
        self._minute = 0
        self._rejected_this_minute = 0
        self.skipped = 0
        """Rejected requests not recorded (over the budget), since the start."""
        log.warning("recorder.on", directory=str(directory),
                    hint="recordings contain live signatures and bodies: keep them private")

    def _within_budget(self) -> bool:
        minute = int(time.monotonic() // 60)
        if minute != self._minute:
            if self._minute and self._rejected_this_minute > self._rejected_per_minute:
                log.warning("recorder.rejections_skipped",
                            skipped=self._rejected_this_minute - self._rejected_per_minute,
                            per_minute=self._rejected_per_minute)
            self._minute, self._rejected_this_minute = minute, 0
        self._rejected_this_minute += 1
        if self._rejected_this_minute > self._rejected_per_minute:
            self.skipped += 1
            return False
        return True

    async def record(self, request: web.Request, source: str, status: int,
                     outcome: str | None, body: bytes | None) -> None:
        """Write one request with the body its handler read (redacted where the source
        says so); None: refused before its body was read, recorded without it."""
        rejected = status >= 400
        if rejected and not self._within_budget():
            return
        note = None
        if body is None:
            body, note = b"", "refused before its body was read: recorded without it"
        elif rejected and len(body) > REJECTED_BODY_LIMIT:
            body, note = (body[:REJECTED_BODY_LIMIT],
                          f"rejected: the first {REJECTED_BODY_LIMIT} bytes of its body")
        recording = Recording.of_request(
            source, request.method, request.path, dict(request.query), dict(request.headers),
            body, response=Outcome(status=status, outcome=outcome), note=note)
        name = (f"{recording.received_at:%Y%m%dT%H%M%S%f}-{source}-{next(self._counter):06d}"
                ".json")
        await asyncio.to_thread((self.directory / name).write_text, recording.dumps(),
                                "utf-8")
