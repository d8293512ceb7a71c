"""What the receiver's handlers share, and how they say no.

Handlers raise `Rejection` (status, reason, detail, Retry-After) and fill the request's
`Handling`; the middleware in ingest.observe turns both into the response, the metrics,
the log line and the recording, once for every kind of request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

import routing
from waitpoint import Waitpoint

from .callbacks import CallbackSigner
from .delivery_counts import DeliveryCounts
from .inbox import Inbox
from .metrics import Metrics, SourceMetrics
from .request_recorder import Recorder
from .responses import json_answer
from .source_pauses import SourcePauses


@dataclass(frozen=True)
class ReceiverLimits:
    """How much the receiver takes before it sheds load. The defaults are far above what a
    provider's normal delivery needs (a request in a few hundred ms, a few connections)
    and far below what exhausts the process.

    keepalive_timeout: seconds an idle connection is kept, and the time a new connection
        has to send its first request's headers (slow-header clients are closed).
    body_timeout: seconds to read a body once its headers arrived (408 after).
    max_connections: open connections; more are closed on accept (kept below the file
        descriptor limit, so /readyz stays reachable).
    max_connections_per_client: open connections from one address; more are closed on
        accept, so one client renewing idle connections cannot take every slot (a
        reverse proxy in front counts as one client: raise it there).
    max_in_flight: requests to sources being handled at once; more get 503 with
        Retry-After before their body is read (/healthz, /readyz, /metrics are exempt).
    max_pending: events waiting for the group commit; more get 503 with Retry-After
        instead of growing memory.
    commit_timeout: seconds a group commit may take before its requests get 503 (a
        frozen database connection answers nothing; the provider retries, and dedupe
        makes a commit that did happen count once).
    """

    keepalive_timeout: float = 15.0
    body_timeout: float = 30.0
    max_connections: int = 1000
    max_connections_per_client: int = 250
    max_in_flight: int = 512
    max_pending: int = 5000
    commit_timeout: float = 10.0


@dataclass
class Receiver:
    """The app's shared state (kept in one AppKey)."""

    config: routing.RoutingConfig
    waitpoint: Waitpoint
    inbox: Inbox
    metrics: Metrics
    counts: DeliveryCounts
    pauses: SourcePauses
    body_limit: int
    callbacks: CallbackSigner | None
    recorder: Recorder | None = None
    limits: ReceiverLimits = field(default_factory=ReceiverLimits)
    in_flight: int = 0


RECEIVER = web.AppKey("receiver", Receiver)


@dataclass
class Handling:
    """What the middleware reports about one request to a source (or a callback URL):
    filled by the handler as it goes, so a rejection still says how far it got."""

    source: str
    metrics: SourceMetrics
    recorded: bool = True
    """Whether `--record` writes this request (not callback URLs: their path is a token)."""
    recorded_body: bytes | None = None
    """The body as recordings keep it (secret fields redacted), once the handler read it;
    None: refused before (the recorder never reads a body itself)."""
    outcome: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


_HANDLING = web.RequestKey("handling", Handling)


def start_handling(request: web.Request, source: str, metrics: SourceMetrics, *,
                   recorded: bool = True) -> Handling:
    handling = request[_HANDLING] = Handling(source, metrics, recorded)
    return handling


def handling_of(request: web.Request) -> Handling | None:
    """The Handling a source or callback handler started; None for other routes."""
    return request.get(_HANDLING)


class Rejection(Exception):
    """A request refused: nothing was stored (or, for 422, stored as a payload error)."""

    def __init__(self, status: int, reason: str, detail: str = "", *,
                 retry_after: int | None = None, log_detail: str = "") -> None:
        super().__init__(f"{status} {reason}: {detail}" if detail else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        self.log_detail = log_detail or detail
        """What the log line says; a forged request's answer says less than the log."""

    def response(self) -> web.Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return error_response(self.status, self.reason, self.detail, headers)


def error_response(status: int, reason: str, detail: str = "",
                   headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": reason, **({"detail": detail} if detail else {})}
    return json_answer(body, status=status, headers=headers)


def database_unavailable() -> Rejection:
    """Nothing committed: the provider should send it again."""
    return Rejection(503, "database_unavailable", retry_after=5)


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The raw body, read once; 413 when it is over `limit` (checked before reading when
    the length is declared, and while reading when it is not); 408 when it takes longer
    than `timeout` seconds (a client trickling bytes holds no slot for long)."""
    if request.content_length is not None and request.content_length > limit:
        raise Rejection(413, "too_large", f"the body limit is {limit} bytes")
    try:
        if request.content.is_eof():  # already received whole: nothing to wait for
            return await request.read()
        async with asyncio.timeout(timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Rejection(413, "too_large", f"the body limit is {limit} bytes") from None
    except TimeoutError:
        raise Rejection(408, "body_timeout", f"the body took over {timeout:g} s") from None
