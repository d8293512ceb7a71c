"""Who may use the console and what they may do: credentials, read-only, CSRF, Host.

- On a loopback address without a password, whoever can reach the port is the operator
  ("local"): the same trust as a shell on the machine. The Host header must then name a
  loopback address, so a web page cannot reach the console through DNS rebinding.
- On any other address the console refuses to start without `WAITPOINT_CONSOLE_PASSWORD`.
- With a password, every request needs it: HTTP Basic (the user name is recorded as who
  acted) or `Authorization: Bearer <password>`. `WAITPOINT_CONSOLE_READONLY_PASSWORD` is a
  second credential that can look but not act. Both are compared in constant time. A
  client that gives wrong credentials GUESSES_PER_MINUTE times in a minute gets 429 until
  the minute has passed (its right password included: guessing is not worth it).
- Every action (a POST) needs the CSRF token the pages carry: an HMAC, under a key made
  when the console starts, of who is acting and with which credential, so a token seen by
  a read-only operator never works for the full operator of the same name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import math
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

PASSWORD_ENV = "WAITPOINT_CONSOLE_PASSWORD"
READONLY_PASSWORD_ENV = "WAITPOINT_CONSOLE_READONLY_PASSWORD"
GUESSES_PER_MINUTE = 10
"""Wrong credentials a client may give in a minute before it is refused unheard (429)."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
REALM = 'Basic realm="waitpoint console", charset="UTF-8"'


class ConsoleRefused(Exception):
    """The console cannot start as asked (an exposed address without credentials)."""


Credential = Literal["loopback", "password", "read_only_password"]


@dataclass(frozen=True)
class Operator:
    """Who a request comes from, with which credential, and whether they may act."""

    name: str
    can_act: bool
    credential: Credential = "loopback"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConsoleAccess:
    def __init__(self, *, host: str, password: str | None = None,
                 read_only_password: str | None = None, read_only: bool = False) -> None:
        if not is_loopback(host) and not password:
            raise ConsoleRefused(
                f"the console would listen on {host}, reachable from other machines: set "
                f"{PASSWORD_ENV} (and optionally {READONLY_PASSWORD_ENV}), or use "
                f"--host 127.0.0.1")
        if read_only_password and not password:
            raise ConsoleRefused(f"{READONLY_PASSWORD_ENV} needs {PASSWORD_ENV} too")
        self.read_only = read_only
        self._password = password.encode() if password else None
        self._read_only_password = read_only_password.encode() if read_only_password else None
        self._csrf_key = secrets.token_bytes(32)
        self._guesses = GuessLimiter(GUESSES_PER_MINUTE, 60.0)

    @classmethod
    def from_env(cls, *, host: str, read_only: bool,
                 env: Mapping[str, str] = os.environ) -> ConsoleAccess:
        return cls(host=host, password=env.get(PASSWORD_ENV) or None,
                   read_only_password=env.get(READONLY_PASSWORD_ENV) or None,
                   read_only=read_only)

    @property
    def needs_credentials(self) -> bool:
        return self._password is not None

    def identify(self, request: web.Request) -> Operator:
        """The operator of a request, or an HTTP error (401 without valid credentials,
        421 for a foreign Host on an open loopback console)."""
        if self._password is None:
            if not is_loopback(request.url.host or ""):
                raise web.HTTPMisdirectedRequest(
                    text="this console answers to 127.0.0.1 and localhost only")
            return Operator("local", not self.read_only, "loopback")
        client = request.remote or "?"
        wait = self._guesses.refused_for(client)
        if wait:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(wait)},
                                          text="too many wrong credentials: try again later")
        given, who = _credentials(request.headers.get("Authorization", ""))
        if given is not None:
            full = hmac.compare_digest(given, self._password)
            looking = (self._read_only_password is not None
                       and hmac.compare_digest(given, self._read_only_password))
            if full or looking:
                return Operator(who, full and not self.read_only,
                                "password" if full else "read_only_password")
            self._guesses.failed(client)
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": REALM},
                                   text="the console needs its password")

    def csrf_token(self, operator: Operator) -> str:
        bound = f"{operator.credential}\0{operator.name}".encode()
        return hmac.new(self._csrf_key, bound, hashlib.sha256).hexdigest()

    def check_csrf(self, operator: Operator, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(),
                                                         self.csrf_token(operator).encode())


class GuessLimiter:
    """Wrong credentials per client address in a sliding window: at most `allowed` in
    `window` seconds. Bounded memory: past MAX_CLIENTS addresses, the oldest is forgotten."""

    MAX_CLIENTS = 10_000

    def __init__(self, allowed: int, window: float) -> None:
        self._allowed = allowed
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        horizon = time.monotonic() - self._window
        while failures and failures[0] < horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def refused_for(self, client: str) -> int:
        """Seconds `client` must wait before it may try again (0: it may now)."""
        failures = self._recent(client)
        if len(failures) < self._allowed:
            return 0
        return max(1, math.ceil(failures[0] + self._window - time.monotonic()))

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= self.MAX_CLIENTS:
            del self._failures[next(iter(self._failures))]
        self._failures.setdefault(client, deque()).append(time.monotonic())


def _credentials(header: str) -> tuple[bytes | None, str]:
    """(password, who) from an Authorization header; (None, "") when there is none."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip().encode(), "bearer token"
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8: no one
            return None, ""
        user, separator, password = decoded.partition(":")
        if separator:
            return password.encode(), user or "basic"
    return None, ""


OPERATOR = web.RequestKey("operator", Operator)
ACCESS = web.AppKey("console_access", ConsoleAccess)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identify every request; refuse an action from someone who may not act (403) or
    without the page's CSRF token (403); set headers that keep pages out of frames and
    scripts to the console's own."""
    access = request.app[ACCESS]
    try:
        operator = access.identify(request)
    except web.HTTPException as refusal:
        return _refusal(refusal.status, refusal.text or "", refusal.headers)
    request[OPERATOR] = operator
    if request.method not in ("GET", "HEAD"):
        if not operator.can_act:
            return _refusal(403, "this console is read-only for you")
        token = request.headers.get(CSRF_HEADER)
        if token is None:
            form = await request.post()
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
        if not access.check_csrf(operator, token):
            return _refusal(403, "missing or stale CSRF token: reload the page and try again")
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as answer:
        _secure(answer.headers)
        raise
    _secure(response.headers)
    # The page's own time, for the browser's network panel and bench/console.py.
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


def _refusal(status: int, text: str, headers: Mapping[str, str] | None = None) -> web.Response:
    response = web.Response(status=status, text=text, headers=headers)
    _secure(response.headers)
    return response


def _secure(headers: MutableMapping[str, str]) -> None:
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")
