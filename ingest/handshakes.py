"""Provider handshakes, answered by the receiver itself: they create no event and no signal.

- after the signature checks: Slack `url_verification` (echo `challenge`), Discord `PING`
  (type 1 answered with type 1), Zoom `endpoint.url_validation` (plainToken answered with
  its HMAC-SHA256 under the secret token);
- GET subscription checks: Meta (`hub.verify_token` must match, `hub.challenge` echoed:
  403 otherwise) and Dropbox (`challenge` echoed);
- Microsoft Graph's `validationToken`, which Graph sends unsigned before any notification.

Echoed text goes out as text/plain with nosniff, so a reflected value cannot become markup.
Discord also needs its interactions answered in its own format (a deferred response), which
`provider_answer` gives.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp import web

import routing

from .responses import json_answer

GET_HANDSHAKES = frozenset({"meta", "dropbox"})
DISCORD_PING = 1
DISCORD_DEFERRED = {2: 5, 3: 6, 5: 5}  # command / component / modal -> deferred response


def _text(value: str) -> web.Response:
    return web.Response(text=value, content_type="text/plain",
                        headers={"X-Content-Type-Options": "nosniff"})


def _json_object(body: bytes) -> dict[str, Any] | None:
    if body[:1] != b"{":
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def before_verification(source: routing.CompiledSource,
                        query: Any) -> web.Response | None:
    """Handshakes that carry no signature by design (Microsoft Graph)."""
    if source.scheme == "msgraph" and "validationToken" in query:
        return _text(query["validationToken"])
    return None


def after_verification(source: routing.CompiledSource, body: bytes) -> web.Response | None:
    """The answer to a verified handshake request, or None for an ordinary callback."""
    if source.scheme not in ("slack", "discord", "zoom"):
        return None
    message = _json_object(body)
    if message is None:
        return None
    if source.scheme == "slack" and message.get("type") == "url_verification":
        return json_answer({"challenge": str(message.get("challenge", ""))})
    if source.scheme == "discord" and message.get("type") == DISCORD_PING:
        return json_answer({"type": DISCORD_PING})
    if source.scheme == "zoom" and message.get("event") == "endpoint.url_validation":
        payload = message.get("payload")
        token = str(payload.get("plainToken", "")) if isinstance(payload, dict) else ""
        secret = source.verify.secrets[0].get_secret_value().encode()
        encrypted = hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()
        return json_answer({"plainToken": token, "encryptedToken": encrypted})
    return None


def subscription(source: routing.CompiledSource, query: Any) -> tuple[web.Response, str]:
    """A GET subscription check (Meta, Dropbox): the answer and the outcome to log."""
    if source.scheme == "meta":
        mode, token, challenge = (query.get(f"hub.{name}") for name in
                                  ("mode", "verify_token", "challenge"))
        if mode != "subscribe" or token is None or challenge is None:
            return _error(400, "malformed_handshake",
                          "expected hub.mode=subscribe, hub.verify_token, hub.challenge")
        wanted = source.verify.verify_token.get_secret_value().encode()
        if not hmac.compare_digest(wanted, token.encode()):
            return _error(403, "bad_verify_token")
        return _text(challenge), "handshake"
    challenge = query.get("challenge")
    if challenge is None:
        return _error(400, "malformed_handshake", "expected ?challenge=")
    return _text(challenge), "handshake"


def _error(status: int, reason: str, detail: str = "") -> tuple[web.Response, str]:
    body = {"error": reason, **({"detail": detail} if detail else {})}
    return json_answer(body, status=status), reason


def provider_answer(source: routing.CompiledSource, body: bytes,
                    answer: dict[str, Any]) -> dict[str, Any]:
    """The 2xx body for a stored callback: ours, unless the provider expects its own
    format (a Discord interaction must be answered with an interaction response)."""
    if source.scheme != "discord":
        return answer
    message = _json_object(body) or {}
    kind = message.get("type")
    if kind == 4:  # autocomplete cannot be deferred: offer no choices
        return {"type": 8, "data": {"choices": []}}
    return {"type": DISCORD_DEFERRED.get(kind if isinstance(kind, int) else 0, 5)}
