"""What every console page shares (one AppKey), and the small helpers handlers use:
rendering with the operator and CSRF token, reading filters, logging an action."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import asyncpg
import structlog
from aiohttp import web

import routing
from waitpoint import Waitpoint
from waitpoint.inspect import NEWEST, Inspector

from ..receiver_sql import InboxQuery
from ..replay import parse_since
from .access import ACCESS, OPERATOR, Operator
from .console_sql import ConsoleQuery

log = structlog.get_logger("ingest.console")

PAGE_SIZE = 50
SEARCH_BOUND = 5000
"""Candidates a filter no index serves (body text, worker, tag, args) reads per page."""


@dataclass
class Console:
    config: routing.RoutingConfig
    waitpoint: Waitpoint
    pool: asyncpg.Pool
    """The console's own few connections (statement timeout, custom plans): a slow page
    can never take the receiver's or the workers' connections."""
    query: ConsoleQuery
    inbox: InboxQuery

    @property
    def inspect(self) -> Inspector:
        """The engine's read model: jobs, waits, workflows, depth."""
        return self.waitpoint.inspect

    @property
    def sources(self) -> list[str]:
        """The configured sources, and "callback" for per-job callback URLs."""
        return [*self.config.sources, "callback"]


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def operator_of(request: web.Request) -> Operator:
    return request[OPERATOR]


def page(request: web.Request, template: str, context: Mapping[str, Any], *,
         status: int = 200) -> web.Response:
    """A rendered page, with who is looking, whether they may act and the CSRF token."""
    operator = operator_of(request)
    return aiohttp_jinja2.render_template(template, request, {
        **context,
        "operator": operator,
        "can_act": operator.can_act,
        "csrf": request.app[ACCESS].csrf_token(operator),
        "message": request.query.get("message"),
        "path": request.path,
        "raw": request.query,
    }, status=status)


def text_filter(request: web.Request, name: str) -> str | None:
    """A text a person typed in a filter; PostgreSQL's text holds no NUL, so a NUL is a 400
    here rather than an error from the database."""
    return storable_filter(name, request.query.get(name, ""))


def storable_filter(name: str, text: str) -> str | None:
    """A filter's text, stripped (None when empty); a NUL is a 400."""
    value = text.strip()
    if "\x00" in value:
        raise web.HTTPBadRequest(text=f"{name}: a text filter cannot contain NUL")
    return value or None


def parse_id(text: str) -> int | None:
    """An id as the database holds them (1 to 2^63 - 1, ASCII digits), else None: "²" is a
    digit to str.isdigit() and 2^64 overflows bigint, and neither may reach a query."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= NEWEST else None


def cursor(request: web.Request, name: str = "before") -> int:
    text = request.query.get(name, "")
    if not text:
        return NEWEST
    value = parse_id(text)
    if value is None:
        raise web.HTTPBadRequest(text=f"{name}: expected an id")
    return value


def time_filter(request: web.Request, name: str) -> datetime | None:
    text = text_filter(request, name)
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"{name}: {error}") from None


def path_id(request: web.Request, name: str = "id") -> int:
    value = parse_id(request.match_info[name])
    if value is None:
        raise web.HTTPNotFound(text=f"no such {name}: {request.match_info[name]!r}")
    return value


def acted(request: web.Request, action: str, **what: Any) -> None:
    """The log line every action writes: who did what to which, and what it changed."""
    log.info("console.action", who=operator_of(request).name, action=action, **what)


def back_to(location: str, message: str) -> web.HTTPSeeOther:
    """After an action: back to the page it was taken on, saying what happened."""
    separator = "&" if "?" in location else "?"
    return web.HTTPSeeOther(f"{location}{separator}message={quote(message)}")


async def form_of(request: web.Request) -> Mapping[str, str]:
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


DATABASE_DOWN = (OSError, asyncpg.InterfaceError, asyncpg.InternalClientError,
                 asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
                 asyncpg.AdminShutdownError, asyncpg.QueryCanceledError, TimeoutError)
"""What a page gets when the database is down, restarting or too slow for the console's
statement timeout."""


@web.middleware
async def error_pages(request: web.Request, handler: Any) -> web.StreamResponse:
    """A refusal a handler raised (a bad filter, an unknown id, a payload that is not JSON)
    as a page of the console that says what was wrong, for a browser; as it is otherwise.
    The database unavailable is a 503 that says so; anything else unexpected a 500, with
    one log line (never aiohttp's bare page and a multi-line traceback)."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as error:
        if error.status < 400 or "text/html" not in request.headers.get("Accept", ""):
            raise
        return page(request, "error.html", {"status": error.status, "reason": error.reason,
                                            "text": error.text or ""}, status=error.status)
    except DATABASE_DOWN as error:
        log.warning("console.database_unavailable", path=request.path,
                    error=f"{type(error).__name__}: {error}")
        return _failure(request, 503, "Database unavailable",
                        "The database is unavailable or too slow right now: nothing was "
                        "changed. Try again in a moment.")
    except Exception as error:
        log.error("console.failed", path=request.path, error=f"{type(error).__name__}: {error}")
        return _failure(request, 500, "Internal error",
                        "The console failed on this page; its log says why.")


def _failure(request: web.Request, status: int, reason: str, text: str) -> web.Response:
    if "text/html" not in request.headers.get("Accept", ""):
        return web.Response(status=status, text=text)
    return page(request, "error.html", {"status": status, "reason": reason, "text": text},
                status=status)
