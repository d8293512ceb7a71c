"""structlog setup: readable on a terminal, one JSON object per line everywhere else."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import orjson
import structlog


def _dumps(value: Any, **options: Any) -> bytes:
    """orjson for the log line (several times faster than json.dumps, which showed in
    the receiver's per-request cost); json.dumps for what orjson refuses (an integer past
    64 bits), so a line is never lost to its serializer."""
    try:
        return orjson.dumps(value, default=options.get("default"),
                            option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, default=repr).encode()


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
        logger_factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
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
