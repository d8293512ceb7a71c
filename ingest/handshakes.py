"""Provider handshakes, answered after verification; they create no event and no signal.

Slack's Events API will not send events until the endpoint echoes the `challenge` of a
signed `url_verification` request.
"""

from __future__ import annotations

import json

from aiohttp import web

import routing


def handshake(source: routing.CompiledSource, body: bytes) -> web.Response | None:
    """The answer to a verified handshake request, or None for an ordinary callback."""
    if source.scheme == "slack" and body[:1] == b"{":
        try:
            message = json.loads(body)
        except ValueError:
            return None
        if isinstance(message, dict) and message.get("type") == "url_verification":
            return web.json_response({"challenge": str(message.get("challenge", ""))})
    return None
