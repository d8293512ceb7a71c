"""Replay: recordings sent to a receiver, and stored events routed again.

Recordings go out byte for byte, or re-signed with the source's secret and a fresh
timestamp (`resign`), so a recording made weeks ago passes the tolerance check. Stored
events are routed again with the current config (after a routing fix); an event that
already signalled someone is skipped unless forced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt as pyjwt

import routing
from waitpoint import Waitpoint

from . import verify as verification
from .events import EventRecord, signals_reached
from .prepared import prepare
from .receiver_sql import EventToReplay, InboxQuery
from .recording_file import Recording

HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection",
                        "keep-alive", "accept-encoding"})


@dataclass(frozen=True)
class ReplayResult:
    name: str
    status: int
    outcome: str
    signals: int
    answer: dict[str, Any]
    mismatch: str = ""
    event_id: int | None = None


def resign(recording: Recording, source: routing.CompiledSource, public_url: str,
           signing_key: Any = None) -> tuple[dict[str, str], bytes]:
    """The recording's headers and body with a fresh signature and timestamp from the
    source's scheme. Public-key schemes (Discord, SendGrid, Plaid, JWT) need the private
    key matching the config's public key: `signing_key`."""
    options = source.verifier
    verifier = verification.build_verifier(options)
    sensitive = verification.sensitive_headers(verifier)
    headers = {k: v for k, v in recording.headers.items() if k not in sensitive}
    now = int(time.time())
    message_id = headers.get("webhook-id") or headers.get("svix-id")
    extra: dict[str, Any] = {"timestamp": now, "url": public_url, "headers": headers}
    if message_id:
        extra["message_id"] = message_id  # keep the provider's delivery id for dedupe
    if getattr(options, "id_header", None):
        extra["message_id"] = headers.get(options.id_header.lower())
    if signing_key is not None:
        extra["private_key"] = signing_key
        kid = _recorded_kid(recording)
        if kid:
            extra["kid"] = kid
    body = verifier.refresh_body(recording.raw_body, now)
    signed = verifier.sign(body, **extra)
    return {**headers, **{k.lower(): v for k, v in signed.items()}}, body


def _recorded_kid(recording: Recording) -> str | None:
    """The key id of a recorded JWT, so a re-signed token names the same key."""
    for name in ("plaid-verification", "authorization"):
        value = recording.headers.get(name, "")
        token = value.removeprefix("Bearer ").strip()
        if token.count(".") == 2:
            try:
                return pyjwt.get_unverified_header(token).get("kid")
            except pyjwt.PyJWTError:
                return None
    return None


def _url(base_url: str, recording: Recording) -> str:
    query = f"?{urlencode(recording.query)}" if recording.query else ""
    return base_url.rstrip("/") + recording.path + query


async def send_recording(session: aiohttp.ClientSession, base_url: str, recording: Recording,
                         name: str, config: routing.RoutingConfig | None = None,
                         signing_keys: Mapping[str, Any] | None = None) -> ReplayResult:
    """Send one recording; with `config`, re-sign it first (`--resign`), using
    `signing_keys[source]` (a private key) for public-key schemes."""
    url = _url(base_url, recording)
    headers = {k: v for k, v in recording.headers.items() if k not in HOP_BY_HOP}
    body = recording.raw_body
    if config is not None:
        source = config.sources.get(recording.source)
        if source is None:
            raise ValueError(f"{name}: the config has no source {recording.source!r} "
                             "to re-sign with")
        public = getattr(source.verifier, "public_url", None)
        public_url = _url(public, recording) if public else url
        signed_headers, body = resign(recording, source, public_url,
                                      (signing_keys or {}).get(recording.source))
        headers = {k: v for k, v in signed_headers.items() if k not in HOP_BY_HOP}
    async with session.request(recording.method, url, data=body,
                               headers=headers) as response:
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = {}
        status = response.status
        event_header = response.headers.get("Waitpoint-Event-Id")
        outcome_header = response.headers.get("Waitpoint-Outcome", "")
    answer = answer if isinstance(answer, dict) else {}
    # A provider-format answer (Discord's) carries the event in headers only.
    outcome = str(answer.get("outcome") or answer.get("error") or outcome_header)
    event_id = answer.get("event_id") or (int(event_header) if event_header else None)
    mismatch = ""
    if recording.expect is not None:
        if recording.expect.status != status:
            mismatch = f"expected status {recording.expect.status}"
        elif recording.expect.outcome is not None and recording.expect.outcome != outcome:
            mismatch = f"expected outcome {recording.expect.outcome}"
    return ReplayResult(name, status, outcome, int(answer.get("signals") or 0), answer, mismatch,
                        event_id)


_RELATIVE = re.compile(r"^(\d+)([smhd])$")


def parse_since(text: str) -> datetime:
    """An ISO timestamp, or a span back from now: 30m, 2h, 7d."""
    match = _RELATIVE.match(text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
        try:
            return datetime.now(UTC) - timedelta(**{unit: int(match[1])})
        except OverflowError:
            raise ValueError(f"{text.strip()} reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected an ISO time (2026-11-29T10:00) or a span back from now "
                         f"(30m, 2h, 7d), got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def evaluate_stored(config: routing.RoutingConfig, event: EventToReplay) -> routing.Evaluation:
    """What `config` makes of a stored event now (KeyError: no such source any more;
    routing.BodyError: its body cannot be parsed)."""
    compiled = config.sources[event.source]
    return routing.evaluate(compiled, routing.Callback(
        body=event.body, headers=event.headers, query=event.query,
        params=compiled.match(event.path) or {}))


async def replay_events(wp: Waitpoint, config: routing.RoutingConfig, *,
                        source: str | None = None, since: datetime | None = None,
                        outcome: str | None = None, ids: list[int] | None = None,
                        force: bool = False) -> list[ReplayResult]:
    """Route stored events again with `config` and deliver what they produce now."""
    query = InboxQuery(wp.schema)
    events = await query.events_to_replay(wp.pool, source=source, since=since,
                                          outcome=outcome, ids=ids)
    results = []
    for event in events:
        name = f"event {event.id} ({event.source} {event.delivery_id})"
        if event.source not in config.sources:
            results.append(ReplayResult(name, 0, "no_source", 0, {}))
            continue
        try:
            evaluation = evaluate_stored(config, event)
        except routing.BodyError:
            results.append(ReplayResult(name, 0, "malformed_body", 0, {}))
            continue
        prepared = prepare(evaluation)
        record = EventRecord(source=event.source, delivery_id=event.delivery_id,
                             body=event.body, outcome=prepared.outcome,
                             errors=prepared.errors, deliveries=prepared.deliveries)
        signalled = await query.replay_event(wp.pool, event_id=event.id, record=record,
                                             force=force)
        if signalled is None:
            results.append(ReplayResult(name, 0, "skipped: already signalled", 0, {}))
            continue
        results.append(ReplayResult(name, 0, prepared.outcome, signals_reached(signalled), {}))
    return results
