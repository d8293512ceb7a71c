"""What the console tests share: a config with two HMAC sources, signing, delivering,
and reading a page's CSRF token; the `stack` fixture is in conftest.py."""

from __future__ import annotations

import json
import re
import textwrap

from pydantic import TypeAdapter

import routing
from ingest.app import create_app
from ingest.console import ConsoleAccess, create_console_app
from ingest.verify import sign
from routing.schemes import VerifySpec

SECRET = "partner-secret-0123456789abcdef"
CONFIG = textwrap.dedent("""\
    version: 1
    sources:
      partner:
        path: /callbacks/partner/{job_id}
        verify: {scheme: hmac, secrets: ["partner-secret-0123456789abcdef"], header: x-signature}
        routes:
          - name: decision
            when: "has(body.decision)"
            signal: {job: params.job_id, payload: {decision: body.decision}}
      orders:
        path: /orders
        verify: {scheme: hmac, secrets: ["partner-secret-0123456789abcdef"], header: x-signature}
        routes:
          - name: by-order
            signal: {key: "'order:' + string(body.order)"}
    """)
HMAC = TypeAdapter(VerifySpec).validate_python(
    {"scheme": "hmac", "secrets": [SECRET], "header": "x-signature"})


def signed(body: dict) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", **sign(HMAC, raw)}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page carries no CSRF token"
    return found[1]


async def deliver(receiver, path: str, body: dict) -> dict:
    raw, headers = signed(body)
    response = await receiver.post(path, data=raw, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def start_stack(start_waitpoint, aiohttp_client, access: ConsoleAccess | None = None,
                      queues=None):
    """A worker node, the receiver and a console (access as given) on the test's schema."""
    wp = await start_waitpoint(queues=queues or {"approvals": 5, "default": 5})
    config = routing.parse_config(CONFIG, "console.yaml", {})
    receiver = await aiohttp_client(create_app(config, wp))
    console = await aiohttp_client(create_console_app(
        config, wp, access or ConsoleAccess(host="127.0.0.1")))
    return wp, receiver, console
