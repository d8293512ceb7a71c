"""structlog setup: readable on a terminal, one JSON object per line everywhere else."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import sys
from typing import Any

import orjson
import structlog

PIPE_BUF = 4096
"""What POSIX writes to a pipe in one piece (select.PIPE_BUF on Linux)."""


def _dumps(value: Any, **options: Any) -> bytes:
    """orjson for the log line (several times faster than json.dumps, which showed in
    the receiver's per-request cost); json.dumps for what orjson refuses (an integer past
    64 bits), so a line is never lost to its serializer."""
    try:
        return orjson.dumps(value, default=options.get("default"),
                            option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, default=repr).encode()


class LoopFlushedLogger:
    """structlog's BytesLogger, written once per event-loop iteration instead of once per
    line: a worker draining jobs wrote a line per job, and those write() system calls
    were a visible part of its time. Lines are written in chunks of whole lines of at most
    PIPE_BUF bytes, so that several processes sharing one pipe (`serve --workers N`, `up`)
    never interleave within a line (a longer line is written alone, as before). Outside a
    running loop every line is written at once; the rest is written at exit."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._lines: list[bytes] = []
        self._scheduled = False
        atexit.register(self._flush)

    def msg(self, message: bytes) -> None:
        self._lines.append(message + b"\n")
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        self._scheduled = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        lines, self._lines = self._lines, []
        chunk: list[bytes] = []
        size = 0
        with contextlib.suppress(OSError, ValueError):  # a closed stream at exit
            for line in lines:
                if chunk and size + len(line) > PIPE_BUF:
                    self._write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure_logging(level: str | None = None, *, force: bool = False) -> None:
    """Configure structlog once (unless the application already did, or `force`)."""
    if structlog.is_configured() and not force:
        return
    level_name = (level or os.environ.get("WAITPOINT_LOG_LEVEL", "INFO")).upper()
    renderer: structlog.types.Processor
    logger_factory: Any
    if sys.stderr.isatty() or not hasattr(sys.stderr, "buffer"):
        renderer = (structlog.dev.ConsoleRenderer() if sys.stderr.isatty()
                    else structlog.processors.JSONRenderer())
        logger_factory = structlog.PrintLoggerFactory(file=sys.stderr)
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        writer = LoopFlushedLogger(sys.stderr.buffer)
        logger_factory = lambda *_: writer  # noqa: E731 (one writer for every logger)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.INFO)
        ),
        logger_factory=logger_factory,
        cache_logger_on_first_use=True,
    )
